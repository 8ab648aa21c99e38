package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     string
		handler string
		command []string
	}{
		{"program alone", `LBD_HANDLER_SHA256SUM=["sha256sum"]`, "sha256sum", []string{"sha256sum"}},
		{"arguments and spaces", `LBD_HANDLER_RESIZE_V2= [ "/usr/bin/convert", "-", "-resize", "50% x", "-" ] `,
			"resize_v2", []string{"/usr/bin/convert", "-", "-resize", "50% x", "-"}},
		{"path with a space", `LBD_HANDLER_X=["/opt/my tools/x"]`, "x", []string{"/opt/my tools/x"}},
		{"unicode escape", `LBD_HANDLER_X=["echo\u0041"]`, "x", []string{"echoA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, []string{"-role", "worker"}, tt.env)
			h, ok := c.Worker.Handlers[tt.handler]
			if !ok {
				t.Fatalf("no handler %q, got %v", tt.handler, c.Worker.Handlers)
			}
			if !slices.Equal(h.Command, tt.command) {
				t.Errorf("command = %q, want %q", h.Command, tt.command)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("Warnings = %q, want none", c.Warnings)
			}
		})
	}
}

func TestEnvHandlerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		pos  string
		msg  string
	}{
		{"not JSON", `LBD_HANDLER_X=sha256sum`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "sha256sum": must be a JSON array of strings such as ["prog", "arg"]: invalid character`},
		{"unterminated", `LBD_HANDLER_X=["a"`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "[\"a\"": must be a JSON array of strings such as ["prog", "arg"]: unexpected end of JSON input`},
		{"string not array", `LBD_HANDLER_X="prog"`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "\"prog\"": must be a JSON array of strings`},
		{"number item", `LBD_HANDLER_X=["a", 1]`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "[\"a\", 1]": must be a JSON array of strings`},
		{"null", `LBD_HANDLER_X=null`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "null": must be a JSON array of strings such as ["prog", "arg"]: got null`},
		{"trailing data", `LBD_HANDLER_X=["a"] ["b"]`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "[\"a\"] [\"b\"]": must be a JSON array of strings`},
		{"empty array", `LBD_HANDLER_X=[]`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "[]": command must not be empty`},
		{"empty program", `LBD_HANDLER_X=[""]`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "[\"\"]": command must start with a program name or path`},
		{"shell line", `LBD_HANDLER_X=["sha256sum -b"]`, "LBD_HANDLER_X",
			`invalid LBD_HANDLER_X "[\"sha256sum -b\"]": command program "sha256sum -b" contains a space`},
		{"lower-case name", `LBD_HANDLER_x=["a"]`, "LBD_HANDLER_x",
			`invalid variable name LBD_HANDLER_x: the part after LBD_HANDLER_ must be upper-case letters, digits and '_'`},
		{"no name", `LBD_HANDLER_=["a"]`, "LBD_HANDLER_",
			`invalid variable name LBD_HANDLER_: the part after LBD_HANDLER_`},
		{"builtin name", `LBD_HANDLER_ECHO=["cat"]`, "LBD_HANDLER_ECHO",
			`invalid handler name "echo": it is the name of a built-in handler`},
		{"long name", "LBD_HANDLER_" + strings.Repeat("A", 65) + `=["a"]`, "LBD_HANDLER_" + strings.Repeat("A", 65),
			`invalid handler name "aaaa`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadWith(t, []string{"-role", "worker", "-builtins", "sleep"}, tt.env)
			if c != nil {
				t.Errorf("config = non-nil, want nil on error")
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 || ps[0].Pos != tt.pos || !strings.HasPrefix(ps[0].Msg, tt.msg) {
				t.Errorf("want one problem at %s starting with %s, got:%s", tt.pos, tt.msg, formatProblems(ps))
			}
		})
	}
}

func TestEnvHandlerEmptyIsUnset(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-role", "worker", "-builtins", "echo"}, "LBD_HANDLER_X=")
	if len(c.Worker.Handlers) != 0 {
		t.Errorf("Handlers = %v, want none for an empty LBD_HANDLER_X", c.Worker.Handlers)
	}
}

func TestEnvHandlerOverridesFileCommand(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, `
worker {
  handler "resize" {
    command = ["/usr/bin/resize-old"]
    timeout = "1m"
  }
}
`)
	c := mustLoad(t, []string{"-role", "worker", "-config", file}, `LBD_HANDLER_RESIZE=["/usr/bin/resize-new", "-q"]`)
	h := c.Worker.Handlers["resize"]
	if !slices.Equal(h.Command, []string{"/usr/bin/resize-new", "-q"}) {
		t.Errorf("command = %q, want the one from LBD_HANDLER_RESIZE", h.Command)
	}
	if h.Timeout != time.Minute {
		t.Errorf("timeout = %v, want 1m kept from the file", h.Timeout)
	}

	// The variable also completes a file handler that lacks a command.
	file = writeConfig(t, "worker {\n  handler \"resize\" {\n    dir = \"/tmp\"\n  }\n}\n")
	c = mustLoad(t, []string{"-role", "worker", "-config", file}, `LBD_HANDLER_RESIZE=["resize"]`)
	if h := c.Worker.Handlers["resize"]; h.Dir != "/tmp" || !slices.Equal(h.Command, []string{"resize"}) {
		t.Errorf("handler = %+v, want dir /tmp with command [resize]", h)
	}
}
