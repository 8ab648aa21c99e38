package config

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadFileProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		pos     string // "" for a problem without position
		msg     string // the message starts with this
	}{
		// Unknown and misplaced names.
		{"misspelled top-level key", "advertize = \"10.0.0.5\"\n",
			"lbd.hcl:1:1", `unknown key "advertize" at the top level; did you mean "advertise"?`},
		{"misspelled worker key", "worker {\n  popluation = 8\n}\n",
			"lbd.hcl:2:3", `unknown key "popluation" in the worker block; did you mean "population"?`},
		{"misspelled handler key", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n    dri = \"/\"\n  }\n}\n",
			"lbd.hcl:4:5", `unknown key "dri" in a handler block; did you mean "dir"?`},
		{"misspelled handler command", "worker {\n  handler \"x\" {\n    comand = [\"x\"]\n  }\n}\n",
			"lbd.hcl:3:5", `unknown key "comand" in a handler block; did you mean "command"?`},
		{"misspelled task_type key", "task_type \"x\" {\n  timout = \"1s\"\n}\n",
			"lbd.hcl:2:3", `unknown key "timout" in a task_type block; did you mean "timeout"?`},
		{"misspelled block", "wroker {\n}\n",
			"lbd.hcl:1:1", `unknown block "wroker" at the top level; did you mean "worker"?`},
		{"far-off key lists valid names", "worker {\n  colour = 1\n}\n",
			"lbd.hcl:2:3", `unknown key "colour" in the worker block; valid names are population, drain_timeout, builtins, queues, strict_order, handler`},
		{"worker key at top level", "population = 8\n",
			"lbd.hcl:1:1", `key "population" is not valid at the top level: it belongs in the worker block`},
		{"handler at top level", "handler \"x\" {\n}\n",
			"lbd.hcl:1:1", `block "handler" is not valid at the top level: handler blocks belong in the worker block`},
		{"top-level key in worker", "worker {\n  node = \"a\"\n}\n",
			"lbd.hcl:2:3", `key "node" is not valid in the worker block: node is a top-level key`},
		{"block written as key", "worker = {}\n",
			"lbd.hcl:1:1", `worker is a block, not a key: write worker { ... } without "="`},
		{"key written as block", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n    env {\n    }\n  }\n}\n",
			"lbd.hcl:4:5", `env is a key, not a block: write env = VALUE`},
		{"label on worker", "worker \"a\" {\n}\n",
			"lbd.hcl:1:1", `worker block takes no label`},
		{"task_type without label", "task_type {\n}\n",
			"lbd.hcl:1:1", `task_type block takes exactly one label`},

		// Types and values.
		{"wrong type", "worker {\n  population = \"many\"\n}\n",
			"lbd.hcl:2:3", `invalid population "many": must be an integer`},
		{"fraction", "max_attempts = 2.5\n",
			"lbd.hcl:1:1", `invalid max_attempts 2.5: must be an integer`},
		{"population zero", "worker {\n  population = 0\n}\n",
			"lbd.hcl:2:3", `invalid population 0: must be from 1 to 100000`},
		{"population too large", "worker {\n  population = 100001\n}\n",
			"lbd.hcl:2:3", `invalid population 100001: must be from 1 to 100000`},
		{"max_attempts zero", "max_attempts = 0\n",
			"lbd.hcl:1:1", `invalid max_attempts 0: must be from 1 to 1000`},
		{"max_queued_tasks zero", "max_queued_tasks = 0\n",
			"lbd.hcl:1:1", `invalid max_queued_tasks 0: must be at least 1`},
		{"bad duration", "task_timeout = \"10 minutes\"\n",
			"lbd.hcl:1:1", `invalid task_timeout "10 minutes": must be a duration such as "250ms", "30s"`},
		{"bare number duration", "retry_backoff = 10\n",
			"lbd.hcl:1:1", `invalid retry_backoff 10: must be a duration string with a unit, such as "250ms"`},
		{"zero duration", "task_timeout = \"0s\"\n",
			"lbd.hcl:1:1", `invalid task_timeout "0s": must be longer than 0`},
		{"negative duration", "worker {\n  drain_timeout = \"-5s\"\n}\n",
			"lbd.hcl:2:3", `invalid drain_timeout "-5s": must be longer than 0`},
		{"bad size unit", "max_payload_bytes = \"8 megabytes\"\n",
			"lbd.hcl:1:1", `invalid max_payload_bytes "8 megabytes": unknown unit "megabytes"`},
		{"negative size", "max_output_bytes = -1\n",
			"lbd.hcl:1:1", `invalid max_output_bytes -1: must be at least 1 byte`},
		{"fractional size", "max_output_bytes = 1.5\n",
			"lbd.hcl:1:1", `invalid max_output_bytes 1.5: must be a whole number of bytes`},
		{"frame over the cap", "max_frame_bytes = \"2GiB\"\n",
			"lbd.hcl:1:1", `invalid max_frame_bytes "2GiB": must be at most 1073741824 bytes (1GiB)`},
		{"bool", "dev = \"maybe\"\n",
			"lbd.hcl:1:1", `invalid dev "maybe": must be true or false`},
		{"list", "join = \"10.0.0.1\"\n",
			"lbd.hcl:1:1", `invalid join "10.0.0.1": must be a list of strings`},
		{"role", "role = \"boss\"\n",
			"lbd.hcl:1:1", `invalid role "boss": must be one of master, worker`},
		{"log level", "log_level = \"loud\"\n",
			"lbd.hcl:1:1", `invalid log_level "loud": must be one of debug, info, warn, error`},
		{"log format", "log_format = \"xml\"\n",
			"lbd.hcl:1:1", `invalid log_format "xml": must be one of text, json`},
		{"durability", "durability = \"sometimes\"\n",
			"lbd.hcl:1:1", `invalid durability "sometimes": must be one of fsync, none`},
		{"node with space", "node = \"a b\"\n",
			"lbd.hcl:1:1", `invalid node "a b": must not contain whitespace or control characters`},
		{"node too long", "node = \"" + strings.Repeat("n", 129) + "\"\n",
			"lbd.hcl:1:1", `invalid node "nnnn`},
		{"empty node", "node = \"\"\n",
			"lbd.hcl:1:1", `invalid node "": must not be empty`},
		{"relative data_dir", "data_dir = \"data\"\n",
			"lbd.hcl:1:1", `invalid data_dir "data": must be an absolute path`},
		{"bind without port", "bind = \"10.0.0.5\"\n",
			"lbd.hcl:1:1", `invalid bind "10.0.0.5": must be host:port`},
		{"bind port range", "bind = \"0.0.0.0:70000\"\n",
			"lbd.hcl:1:1", `invalid bind "0.0.0.0:70000": port "70000" must be a number from 0 to 65535`},
		{"bind bad host", "bind = \"no_such host:1\"\n",
			"lbd.hcl:1:1", `invalid bind "no_such host:1": host "no_such host" must be an IP address or a DNS name`},
		{"task_addr numeric host", "task_addr = \"300.1.1.1:7947\"\n",
			"lbd.hcl:1:1", `invalid task_addr "300.1.1.1:7947": host "300.1.1.1" must be an IP address or a DNS name`},
		{"advertise empty host", "advertise = \":7946\"\n",
			"lbd.hcl:1:1", `invalid advertise ":7946": must name a host`},
		{"join port zero", "join = [\"10.0.0.1:0\"]\n",
			"lbd.hcl:1:1", `invalid join ["10.0.0.1:0"]: seed "10.0.0.1:0": port "0" must be a number from 1 to 65535`},
		{"unknown builtin", "worker {\n  builtins = [\"ech\"]\n}\n",
			"lbd.hcl:2:3", `invalid builtins ["ech"]: unknown built-in handler "ech"`},
		{"variable reference", "node = var.name\n",
			"lbd.hcl:1:8", `variables not allowed`},
		{"function call", "node = upper(\"a\")\n",
			"lbd.hcl:1:8", `function calls not allowed`},
		{"syntax error", "node = \n",
			"lbd.hcl:1:8", `invalid expression`},
		{"duplicate key", "node = \"a\"\nnode = \"b\"\n",
			"lbd.hcl:2:1", `attribute redefined`},

		// Handlers and task types.
		{"handler name characters", "worker {\n  handler \"a b\" {\n    command = [\"x\"]\n  }\n}\n",
			"lbd.hcl:2:11", `invalid handler name "a b": must contain only letters, digits`},
		{"handler name length", "worker {\n  handler \"" + strings.Repeat("h", 65) + "\" {\n    command = [\"x\"]\n  }\n}\n",
			"lbd.hcl:2:11", `invalid handler name "hhhh`},
		{"handler named like a builtin", "worker {\n  handler \"echo\" {\n    command = [\"cat\"]\n  }\n}\n",
			"lbd.hcl:2:11", `invalid handler name "echo": it is the name of a built-in handler`},
		{"handler without command", "worker {\n  handler \"x\" {\n    dir = \"/tmp\"\n  }\n}\n",
			"lbd.hcl:2:3", `handler "x" has no command: add command = ["prog", "arg"]`},
		{"handler empty command", "worker {\n  handler \"x\" {\n    command = []\n  }\n}\n",
			"lbd.hcl:3:5", `invalid handler "x" command []: must not be empty`},
		{"handler empty program", "worker {\n  handler \"x\" {\n    command = [\"\"]\n  }\n}\n",
			"lbd.hcl:3:5", `invalid handler "x" command [""]: must start with a program name or path`},
		{"handler shell line", "worker {\n  handler \"x\" {\n    command = [\"convert in.png\"]\n  }\n}\n",
			"lbd.hcl:3:5", `invalid handler "x" command ["convert in.png"]: program "convert in.png" contains a space`},
		{"handler relative dir", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n    dir = \"work\"\n  }\n}\n",
			"lbd.hcl:4:5", `invalid handler "x" dir "work": must be an absolute path`},
		{"handler env type", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n    env = [\"A=1\"]\n  }\n}\n",
			"lbd.hcl:4:5", `invalid handler "x" env ["A=1"]: must be a map of strings`},
		{"handler env name", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n    env = { \"A=B\" = \"1\" }\n  }\n}\n",
			"lbd.hcl:4:5", `invalid handler "x" env { "A=B" = "1" }: invalid variable name "A=B"`},
		{"handler timeout", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n    timeout = \"1 minute\"\n  }\n}\n",
			"lbd.hcl:4:5", `invalid handler "x" timeout "1 minute": must be a duration`},
		{"duplicate handler", "worker {\n  handler \"x\" {\n    command = [\"x\"]\n  }\n  handler \"x\" {\n    command = [\"y\"]\n  }\n}\n",
			"lbd.hcl:5:3", `duplicate handler "x": the first is at `},
		{"duplicate worker block", "worker {\n}\nworker {\n}\n",
			"lbd.hcl:3:1", `duplicate worker block: the first is at `},
		{"task_type name", "task_type \"a/b\" {\n}\n",
			"lbd.hcl:1:11", `invalid task_type name "a/b"`},
		{"task_type attempts", "task_type \"x\" {\n  max_attempts = 2000\n}\n",
			"lbd.hcl:2:3", `invalid task_type "x" max_attempts 2000: must be from 1 to 1000, or 0 for the global max_attempts`},
		{"task_type timeout", "task_type \"x\" {\n  timeout = \"-1s\"\n}\n",
			"lbd.hcl:2:3", `invalid task_type "x" timeout "-1s": must not be negative`},
		{"duplicate task_type", "task_type \"x\" {\n}\ntask_type \"x\" {\n}\n",
			"lbd.hcl:3:1", `duplicate task_type "x": the first is at `},

		// Rules across settings.
		{"heartbeat", "heartbeat_interval = \"1001ms\"\n",
			"lbd.hcl:1:1", `heartbeat_timeout 2s must be at least twice heartbeat_interval 1.001s`},
		{"heartbeat timeout", "heartbeat_interval = \"1s\"\nheartbeat_timeout = \"1999ms\"\n",
			"lbd.hcl:2:1", `heartbeat_timeout 1.999s must be at least twice heartbeat_interval 1s`},
		{"retry backoff", "retry_backoff = \"10m\"\n",
			"lbd.hcl:1:1", `retry_backoff_max 5m must be at least retry_backoff 10m`},
		{"frame and payload", "max_payload_bytes = \"64MiB\"\n",
			"lbd.hcl:1:1", `max_frame_bytes 64MiB must exceed max_payload_bytes 64MiB by at least 64KiB`},
		{"frame and output", "max_payload_bytes = \"1MiB\"\nmax_frame_bytes = \"8MiB\"\n",
			"lbd.hcl:2:1", `max_frame_bytes 8MiB must exceed max_output_bytes 8MiB by at least 64KiB`},
		{"queue and payload", "max_queued_bytes = \"1MiB\"\n",
			"lbd.hcl:1:1", `max_queued_bytes 1MiB must be at least max_payload_bytes 8MiB`},
		{"advertise without port and bind port 0", "bind = \"10.0.0.5:0\"\nadvertise = \"10.0.0.5\"\n",
			"lbd.hcl:2:1", `invalid advertise "10.0.0.5": it has no port and bind uses port 0`},
		{"worker without handlers", "role = \"worker\"\nworker {\n  population = 2\n}\n",
			"lbd.hcl:2:1", `worker has no handlers, so it can run no task`},
		{"worker without worker block", "role = \"worker\"\n",
			"", `worker has no handlers, so it can run no task`},
		{"dev with role", "dev = true\nrole = \"master\"\n",
			"lbd.hcl:2:1", `invalid role "master" in dev mode`},
		{"dev with public bind", "dev = true\nbind = \"0.0.0.0:7946\"\n",
			"lbd.hcl:2:1", `invalid bind "0.0.0.0:7946" in dev mode: dev mode uses loopback addresses only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.content)
			c, err := LoadFile(path)
			if c != nil {
				t.Errorf("config = non-nil, want nil on error")
			}
			ps := problemsOf(t, err)
			rel := func(pos string) string { return relPos(path, pos) }
			found := false
			for _, p := range ps {
				if rel(p.Pos) == tt.pos && strings.HasPrefix(p.Msg, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want a problem at %q starting with %q, got:%s", tt.pos, tt.msg, formatProblems(ps))
			}
			if len(ps) != 1 {
				t.Errorf("got %d problems, want 1:%s", len(ps), formatProblems(ps))
			}
		})
	}
}

func TestLoadFileCollectsAllProblems(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
advertize = "10.0.0.5"
task_timeout = "soon"
worker {
  popluation = 8
  population = "many"
}
role = "boss"
`)
	_, err := LoadFile(path)
	ps := problemsOf(t, err)
	want := []string{
		`lbd.hcl:2:1: unknown key "advertize" at the top level; did you mean "advertise"?`,
		`lbd.hcl:3:1: invalid task_timeout "soon": must be a duration such as "250ms", "30s", "5m" or "1h30m": time: invalid duration "soon"`,
		`lbd.hcl:5:3: unknown key "popluation" in the worker block; did you mean "population"?`,
		`lbd.hcl:6:3: invalid population "many": must be an integer`,
		`lbd.hcl:8:1: invalid role "boss": must be one of master, worker`,
	}
	var got []string
	for _, p := range ps {
		got = append(got, relPos(path, p.Pos)+": "+p.Msg)
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadBadFileAppliesNothing(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "log_level = \"debug\"\nadvertize = \"10.0.0.5\"\n")
	c, err := loadWith(t, []string{"-role", "master", "-config", path})
	if c != nil {
		t.Errorf("Load returned a config with LogLevel %q, want nil because the file is bad", c.LogLevel)
	}
	if err == nil {
		t.Fatal("Load returned no error for a file with an unknown key")
	}
	c, err = LoadFile(path)
	if c != nil || err == nil {
		t.Errorf("LoadFile = (%v, %v), want (nil, error)", c, err)
	}
}

func TestLoadFileValues(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
role = "Worker"
node = "w-1"
advertise = "[fd00::5]"
bind = ":7000"
join = ["seed-1.example.com", "[::1]:7100", "fd00::7"]
max_payload_bytes = 1048576
max_output_bytes = "100kB"
max_queued_bytes = "2 GiB"
data_dir = "/srv/lbd/../lbd"
population = null
task_type "resize" {
  timeout = "5m"
}
task_type "thumb.v2" {
  max_attempts = 0
}
worker {
  population = "8"
  builtins = []
  handler "resize" {
    command = ["/usr/bin/convert", "-", "-resize", "50%", "-"]
    dir = "/var/tmp"
    env = { MAGICK_THREAD_LIMIT = "1", "lower.case" = "x" }
    timeout = "90s"
  }
}
`)
	_, err := LoadFile(path)
	ps := problemsOf(t, err)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, `key "population" is not valid at the top level`) {
		t.Fatalf("want only the misplaced population problem, got:%s", formatProblems(ps))
	}

	content, _ := os.ReadFile(path)
	path = writeConfig(t, strings.Replace(string(content), "population = null\n", "", 1))
	c, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Role", c.Role, RoleWorker},
		{"Advertise", c.Advertise, "[fd00::5]:7000"},
		{"Bind", c.Bind, ":7000"},
		{"Join", strings.Join(c.Join, ","), "seed-1.example.com:7946,[::1]:7100,[fd00::7]:7946"},
		{"MaxPayloadBytes", c.MaxPayloadBytes, int64(1 << 20)},
		{"MaxOutputBytes", c.MaxOutputBytes, int64(100_000)},
		{"MaxQueuedBytes", c.MaxQueuedBytes, int64(2 << 30)},
		{"DataDir", c.DataDir, "/srv/lbd"},
		{"TaskTypes[resize]", c.TaskTypes["resize"], TaskType{Timeout: 5 * time.Minute}},
		{"TaskTypes[thumb.v2]", c.TaskTypes["thumb.v2"], TaskType{}},
		{"Population", c.Worker.Population, 8},
		{"Builtins", len(c.Worker.Builtins), 0},
		{"handler dir", c.Worker.Handlers["resize"].Dir, "/var/tmp"},
		{"handler timeout", c.Worker.Handlers["resize"].Timeout, 90 * time.Second},
		{"handler command", strings.Join(c.Worker.Handlers["resize"].Command, " "), "/usr/bin/convert - -resize 50% -"},
		{"handler env", c.Worker.Handlers["resize"].Env["lower.case"], "x"},
		{"File", c.File, path},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadFileEmpty(t *testing.T) {
	t.Parallel()
	c, err := LoadFile(writeConfig(t, "# nothing\n"))
	if err != nil {
		t.Fatalf("LoadFile of a comment-only file: %v", err)
	}
	if c.Role != "" || c.MaxAttempts != 3 {
		t.Errorf("Role = %q, MaxAttempts = %d; want the defaults \"\" and 3", c.Role, c.MaxAttempts)
	}
}

func TestLoadFileTooLarge(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, strings.Repeat("# padding\n", maxFileBytes/10+1))
	_, err := LoadFile(path)
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Pos != path || !strings.HasPrefix(ps[0].Msg, "config file is larger than 1MiB") {
		t.Errorf("want one problem at %s about the size, got:%s", path, formatProblems(ps))
	}
}

func TestLoadFileNotFound(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "")
	path += ".missing"
	_, err := LoadFile(path)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) = false", err)
	}
}

func TestExampleLoads(t *testing.T) {
	t.Parallel()
	c, err := LoadFile("../lbd.hcl.example")
	if err != nil {
		t.Fatalf("LoadFile(lbd.hcl.example):\n%v", err)
	}
	if c.Role != "" {
		t.Errorf("example sets role %q; it must leave role to -role", c.Role)
	}
	if _, ok := c.Worker.Handlers["resize"]; !ok {
		t.Errorf("example has no handler \"resize\": %v", c.Worker.Handlers)
	}
	if _, ok := c.TaskTypes["resize"]; !ok {
		t.Errorf("example has no task_type \"resize\": %v", c.TaskTypes)
	}
	for _, role := range []string{RoleMaster, RoleWorker} {
		if _, err := loadWith(t, []string{"-config", "../lbd.hcl.example", "-role", role}); err != nil {
			t.Errorf("load example with -role %s:\n%v", role, err)
		}
	}
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	content, err := os.ReadFile("../lbd.hcl.example")
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Concat(keysIn(""), keysIn(blockWorker), handlerSchema.keys, taskTypeSchema.keys)
	for _, key := range keys {
		// Each key is set (or, for role, shown commented out) right after
		// a comment line.
		re := regexp.MustCompile(`(?m)^\s*#.*\n(\s*#.*\n)*\s*(# )?` + key + ` = `)
		if !re.Match(content) {
			t.Errorf("lbd.hcl.example does not document key %q with a comment above it", key)
		}
	}
	if !regexp.MustCompile(`(?m)^# role = `).Match(content) {
		t.Error("lbd.hcl.example must show role commented out")
	}
}

func TestStringRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := LoadFile("../lbd.hcl.example")
	if err != nil {
		t.Fatal(err)
	}
	text := c.String()
	if strings.Contains(text, `MAGICK_THREAD_LIMIT" = "1"`) || !strings.Contains(text, `"MAGICK_THREAD_LIMIT" = "(redacted)"`) {
		t.Errorf("String() must redact handler env values:\n%s", text)
	}

	again, err := LoadFile(writeConfig(t, strings.Replace(text, "role = \"\"\n", "", 1)))
	if err != nil {
		t.Fatalf("LoadFile(String()):\n%v\n%s", err, text)
	}
	for name, h := range c.Worker.Handlers {
		for k := range h.Env {
			h.Env[k] = "(redacted)"
		}
		c.Worker.Handlers[name] = h
	}
	again.File = c.File
	if got, want := again.String(), c.String(); got != want {
		t.Errorf("String() after a round trip differs:\n%s\nwant:\n%s", got, want)
	}
}
