package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, `
log_level = "warn"
join = ["10.0.0.1:7946"]
worker {
  population = 2
}
`)
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantLevel  string
		wantJoin   []string
		wantPop    int
		wantOrigin string
	}{
		{
			name:      "default",
			args:      []string{"-role", "master"},
			wantLevel: "info", wantJoin: nil, wantPop: runtime.NumCPU(),
		},
		{
			name:      "file beats default",
			args:      []string{"-role", "master", "-config", file},
			wantLevel: "warn", wantJoin: []string{"10.0.0.1:7946"}, wantPop: 2,
		},
		{
			name:      "env beats file",
			args:      []string{"-role", "master", "-config", file},
			env:       []string{"LBD_LOG_LEVEL=error", "LBD_JOIN=10.0.0.2, 10.0.0.3:7000", "LBD_POPULATION=3"},
			wantLevel: "error", wantJoin: []string{"10.0.0.2:7946", "10.0.0.3:7000"}, wantPop: 3,
		},
		{
			name: "flag beats env",
			args: []string{"-role", "master", "-config", file,
				"-log-level", "debug", "-join", "10.0.0.4:7100", "-population", "4"},
			env:       []string{"LBD_LOG_LEVEL=error", "LBD_JOIN=10.0.0.2", "LBD_POPULATION=3"},
			wantLevel: "debug", wantJoin: []string{"10.0.0.4:7100"}, wantPop: 4,
		},
		{
			name:      "LBD_CONFIG names the file",
			args:      []string{"-role", "master"},
			env:       []string{"LBD_CONFIG=" + file},
			wantLevel: "warn", wantJoin: []string{"10.0.0.1:7946"}, wantPop: 2,
		},
		{
			name:      "empty variable counts as unset",
			args:      []string{"-role", "master", "-config", file},
			env:       []string{"LBD_LOG_LEVEL=", "LBD_JOIN=", "LBD_POPULATION="},
			wantLevel: "warn", wantJoin: []string{"10.0.0.1:7946"}, wantPop: 2,
		},
		{
			name:      "empty -config loads no file",
			args:      []string{"-role", "master", "-config", ""},
			env:       []string{"LBD_CONFIG=" + file},
			wantLevel: "info", wantJoin: nil, wantPop: runtime.NumCPU(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, tt.args, tt.env...)
			if c.LogLevel != tt.wantLevel {
				t.Errorf("LogLevel = %q, want %q", c.LogLevel, tt.wantLevel)
			}
			if !slices.Equal(c.Join, tt.wantJoin) {
				t.Errorf("Join = %q, want %q", c.Join, tt.wantJoin)
			}
			if c.Worker.Population != tt.wantPop {
				t.Errorf("Worker.Population = %d, want %d", c.Worker.Population, tt.wantPop)
			}
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-role", "master"})
	host, err := os.Hostname()
	if err != nil {
		t.Fatalf("os.Hostname: %v", err)
	}
	tests := []struct {
		key  string
		got  any
		want any
	}{
		{"role", c.Role, "master"},
		{"dev", c.Dev, false},
		{"node", c.Node, host},
		{"bind", c.Bind, "0.0.0.0:7946"},
		{"advertise", c.Advertise, ""},
		{"join", len(c.Join), 0},
		{"rejoin_interval", c.RejoinInterval, 30 * time.Second},
		{"data_dir", c.DataDir, "/var/lib/lbd"},
		{"log_level", c.LogLevel, "info"},
		{"log_format", c.LogFormat, "text"},
		{"task_addr", c.TaskAddr, "0.0.0.0:7947"},
		{"http_addr", c.HTTPAddr, "127.0.0.1:7948"},
		{"durability", c.Durability, "fsync"},
		{"max_attempts", c.MaxAttempts, 3},
		{"task_timeout", c.TaskTimeout, 10 * time.Minute},
		{"retry_backoff", c.RetryBackoff, time.Second},
		{"retry_backoff_max", c.RetryBackoffMax, 5 * time.Minute},
		{"max_queued_tasks", c.MaxQueuedTasks, 1000000},
		{"max_queued_bytes", c.MaxQueuedBytes, int64(1 << 30)},
		{"max_payload_bytes", c.MaxPayloadBytes, int64(8 << 20)},
		{"max_output_bytes", c.MaxOutputBytes, int64(8 << 20)},
		{"max_result_bytes", c.MaxResultBytes, int64(1 << 30)},
		{"max_frame_bytes", c.MaxFrameBytes, int64(64 << 20)},
		{"heartbeat_interval", c.HeartbeatInterval, 500 * time.Millisecond},
		{"heartbeat_timeout", c.HeartbeatTimeout, 2 * time.Second},
		{"result_retention", c.ResultRetention, 24 * time.Hour},
		{"adopt_grace", c.AdoptGrace, 10 * time.Second},
		{"encrypt", c.Encrypt, ""},
		{"keyring_file", c.KeyringFile, ""},
		{"api_token", c.APIToken, ""},
		{"api_token_file", c.APITokenFile, ""},
		{"metrics_require_token", c.MetricsRequireToken, false},
		{"tls_ca_file", c.TLSCAFile, ""},
		{"tls_cert_file", c.TLSCertFile, ""},
		{"tls_key_file", c.TLSKeyFile, ""},
		{"task_encryption", c.TaskEncryption, false},
		{"api_tls_cert_file", c.APITLSCertFile, ""},
		{"api_tls_key_file", c.APITLSKeyFile, ""},
		{"api_ca_file", c.APICAFile, ""},
		{"max_conns_per_addr", c.MaxConnsPerAddr, 64},
		{"max_pending_handshakes", c.MaxPendingHandshakes, 128},
		{"max_members", c.MaxMembers, 10000},
		{"max_http_conns", c.MaxHTTPConns, 1024},
		{"task_type blocks", len(c.TaskTypes), 0},
		{"population", c.Worker.Population, runtime.NumCPU()},
		{"drain_timeout", c.Worker.DrainTimeout, 30 * time.Second},
		{"builtins", len(c.Worker.Builtins), 0},
		{"queues", c.Worker.Queues, "default=1"},
		{"strict_order", c.Worker.StrictOrder, false},
		{"queue blocks", len(c.Queues), 0},
		{"handler blocks", len(c.Worker.Handlers), 0},
		{"file", c.File, ""},
		{"warnings", len(c.Warnings), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("default %s = %v, want %v", tt.key, tt.got, tt.want)
		}
	}
	if len(tests) != len(settings)+5 {
		t.Errorf("the table checks %d entries; keep it at one per setting (%d) plus the 5 others", len(tests), len(settings))
	}
}

func TestLoadDevDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-dev", "-node", "dev/one"})
	if c.Role != "" {
		t.Errorf("Role = %q, want empty in dev mode", c.Role)
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"Bind", c.Bind, "127.0.0.1:7946"},
		{"TaskAddr", c.TaskAddr, "127.0.0.1:7947"},
		{"HTTPAddr", c.HTTPAddr, "127.0.0.1:7948"},
		{"Durability", c.Durability, DurabilityNone},
		{"DataDir", c.DataDir, filepath.Join(os.TempDir(), "lbd-dev-dev_one")},
		{"Builtins", strings.Join(c.Worker.Builtins, ","), "echo,sleep"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("dev %s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadDevKeepsExplicitValues(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-dev", "-durability", "fsync", "-bind", "127.0.0.2:0",
		"-data-dir", "/srv/lbd", "-builtins", "echo"}, "LBD_TASK_ADDR=localhost:9000")
	if c.Durability != DurabilityFsync {
		t.Errorf("Durability = %q, want fsync from the flag", c.Durability)
	}
	if c.Bind != "127.0.0.2:0" {
		t.Errorf("Bind = %q, want 127.0.0.2:0 from the flag", c.Bind)
	}
	if c.TaskAddr != "localhost:9000" {
		t.Errorf("TaskAddr = %q, want localhost:9000 from LBD_TASK_ADDR", c.TaskAddr)
	}
	if c.DataDir != "/srv/lbd" {
		t.Errorf("DataDir = %q, want /srv/lbd from the flag", c.DataDir)
	}
	if !slices.Equal(c.Worker.Builtins, []string{"echo"}) {
		t.Errorf("Builtins = %q, want [echo] from the flag", c.Worker.Builtins)
	}
}

func TestLoadDevFromFileAndEnv(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, "dev = true\n")
	c := mustLoad(t, []string{"-config", file})
	if !c.Dev || c.Bind != "127.0.0.1:7946" {
		t.Errorf("dev = true in the file: Dev = %v, Bind = %q; want true, 127.0.0.1:7946", c.Dev, c.Bind)
	}
	c = mustLoad(t, nil, "LBD_DEV=1")
	if !c.Dev || c.Durability != DurabilityNone {
		t.Errorf("LBD_DEV=1: Dev = %v, Durability = %q; want true, none", c.Dev, c.Durability)
	}
	c = mustLoad(t, []string{"-dev=false", "-role", "master"}, "LBD_DEV=true")
	if c.Dev {
		t.Errorf("-dev=false with LBD_DEV=true: Dev = true, want false because the flag wins")
	}
}

func TestLoadRepeatedListFlagsAppend(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-role", "master", "-join", "10.0.0.1", "-join", "10.0.0.2:8000,10.0.0.3"},
		"LBD_JOIN=10.9.9.9")
	want := []string{"10.0.0.1:7946", "10.0.0.2:8000", "10.0.0.3:7946"}
	if !slices.Equal(c.Join, want) {
		t.Errorf("Join = %q, want %q", c.Join, want)
	}
	c = mustLoad(t, []string{"-role", "master", "-join="}, "LBD_JOIN=10.9.9.9")
	if len(c.Join) != 0 {
		t.Errorf("-join= : Join = %q, want empty because an empty flag clears the list", c.Join)
	}
}

func TestLoadScalarFlagLastWins(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-role", "master", "-max-attempts", "5", "--max-attempts=7"})
	if c.MaxAttempts != 7 {
		t.Errorf("MaxAttempts = %d, want 7 from the last flag", c.MaxAttempts)
	}
}

func TestLoadSizesAndDurationsFromText(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-role", "master", "-max-payload-bytes", "16MiB", "-max-frame-bytes", "32 MiB",
		"-heartbeat-interval", "250ms"}, "LBD_MAX_OUTPUT_BYTES=1000000", "LBD_HEARTBEAT_TIMEOUT=1s")
	if c.MaxPayloadBytes != 16<<20 || c.MaxFrameBytes != 32<<20 || c.MaxOutputBytes != 1_000_000 {
		t.Errorf("sizes = %d, %d, %d; want %d, %d, %d",
			c.MaxPayloadBytes, c.MaxFrameBytes, c.MaxOutputBytes, 16<<20, 32<<20, 1_000_000)
	}
	if c.HeartbeatInterval != 250*time.Millisecond || c.HeartbeatTimeout != time.Second {
		t.Errorf("heartbeat = %v, %v; want 250ms, 1s", c.HeartbeatInterval, c.HeartbeatTimeout)
	}
}

func TestLoadTextErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  []string
		pos  string
		msg  string
	}{
		{"env integer", nil, []string{"LBD_POPULATION=x"},
			"LBD_POPULATION", `invalid LBD_POPULATION "x": must be an integer`},
		{"flag integer", []string{"-population", "x"}, nil,
			"flag -population", `invalid -population "x": must be an integer`},
		{"flag range", []string{"-population", "0"}, nil,
			"flag -population", `invalid -population "0": must be from 1 to 100000`},
		{"env bool", nil, []string{"LBD_DEV=yes"},
			"LBD_DEV", `invalid LBD_DEV "yes": must be true or false`},
		{"env duration", nil, []string{"LBD_TASK_TIMEOUT=10"},
			"LBD_TASK_TIMEOUT", `invalid LBD_TASK_TIMEOUT "10": must be a duration such as "250ms"`},
		{"flag negative duration", []string{"-drain-timeout", "-1s"}, nil,
			"flag -drain-timeout", `invalid -drain-timeout "-1s": must be longer than 0`},
		{"flag size unit", []string{"-max-payload-bytes", "8mb"}, nil,
			"flag -max-payload-bytes", `unknown unit "mb"`},
		{"env address", nil, []string{"LBD_BIND=7946"},
			"LBD_BIND", `invalid LBD_BIND "7946": must be host:port`},
		{"flag seed port", []string{"-join", "10.0.0.1:0"}, nil,
			"flag -join", `seed "10.0.0.1:0": port "0" must be a number from 1 to 65535`},
		{"flag builtin", []string{"-builtins", "echo,cat"}, nil,
			"flag -builtins", `unknown built-in handler "cat"`},
		{"repeated builtin", []string{"-builtins", "echo", "-builtins", "echo"}, nil,
			"flag -builtins", `built-in handler "echo" is listed twice`},
		{"env role", nil, []string{"LBD_ROLE=boss"},
			"LBD_ROLE", `invalid LBD_ROLE "boss": must be one of master, worker`},
		{"unknown flag", []string{"-populaton", "3"}, nil,
			"flag -populaton", `unknown flag -populaton; did you mean "population"?`},
		{"flag without value", []string{"-node"}, nil,
			"flag -node", "missing value for -node"},
		{"positional argument", []string{"run"}, nil,
			"command line", `unexpected argument "run"`},
		{"missing file", []string{"-config", "/nonexistent/lbd.hcl"}, nil,
			"/nonexistent/lbd.hcl", "config file not found"},
		{"missing file from env", nil, []string{"LBD_CONFIG=/nonexistent/lbd.hcl"},
			"/nonexistent/lbd.hcl", "(the path comes from LBD_CONFIG)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadWith(t, append([]string{"-role", "master"}, tt.args...), tt.env...)
			if c != nil {
				t.Errorf("config = non-nil, want nil on error")
			}
			ps := problemsOf(t, err)
			if _, ok := findProblem(ps, tt.pos, tt.msg, func(s string) string { return s }); !ok {
				t.Errorf("want a problem at %q containing %q, got:%s", tt.pos, tt.msg, formatProblems(ps))
			}
		})
	}
}

func TestLoadMissingFileUnwraps(t *testing.T) {
	t.Parallel()
	_, err := loadWith(t, []string{"-role", "master", "-config", filepath.Join(t.TempDir(), "none.hcl")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(err, os.ErrNotExist) = false for %v", err)
	}
}

func TestLoadRoleRules(t *testing.T) {
	t.Parallel()
	_, err := loadWith(t, nil)
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Pos != "" || !strings.HasPrefix(ps[0].Msg, "missing role: set -role master or -role worker") {
		t.Errorf("no role: want one problem \"missing role: ...\" without position, got:%s", formatProblems(ps))
	}

	_, err = loadWith(t, []string{"-dev", "-role", "worker"})
	ps = problemsOf(t, err)
	if _, ok := findProblem(ps, "flag -role", `invalid role "worker" in dev mode`, func(s string) string { return s }); !ok {
		t.Errorf("-dev -role worker: want a problem at flag -role, got:%s", formatProblems(ps))
	}

	_, err = loadWith(t, []string{"-role", "worker"})
	ps = problemsOf(t, err)
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Msg, "worker has no handlers") ||
		!strings.Contains(ps[0].Msg, "LBD_HANDLER_NAME") || !strings.Contains(ps[0].Msg, "-builtins") {
		t.Errorf("worker without handlers: want one problem that says how to add one, got:%s", formatProblems(ps))
	}

	_, err = loadWith(t, []string{"-dev", "-builtins="})
	ps = problemsOf(t, err)
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Msg, "worker has no handlers") {
		t.Errorf("dev without builtins: want the no-handlers problem, got:%s", formatProblems(ps))
	}

	c := mustLoad(t, []string{"-role", "worker", "-builtins", "sleep"})
	if c.Role != RoleWorker || !slices.Equal(c.Worker.Builtins, []string{"sleep"}) {
		t.Errorf("worker with builtins: Role = %q, Builtins = %q; want worker, [sleep]", c.Role, c.Worker.Builtins)
	}
	c = mustLoad(t, []string{"-role", "MASTER"})
	if c.Role != RoleMaster {
		t.Errorf("-role MASTER: Role = %q, want master", c.Role)
	}
}

func TestLoadDevLoopbackOnly(t *testing.T) {
	t.Parallel()
	_, err := loadWith(t, []string{"-dev", "-bind", "0.0.0.0:7946", "-join", "10.0.0.1"}, "LBD_HTTP_ADDR=:8080")
	ps := problemsOf(t, err)
	want := []struct{ pos, msg string }{
		{"LBD_HTTP_ADDR", `invalid http_addr ":8080" in dev mode: dev mode uses loopback addresses only`},
		{"flag -bind", `invalid bind "0.0.0.0:7946" in dev mode`},
		{"flag -join", `invalid join seed "10.0.0.1:7946" in dev mode`},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:%s", len(ps), len(want), formatProblems(ps))
	}
	for i, w := range want {
		if ps[i].Pos != w.pos || !strings.HasPrefix(ps[i].Msg, w.msg) {
			t.Errorf("problem %d = %q, want %s: %s...", i, ps[i].String(), w.pos, w.msg)
		}
	}
}

func TestLoadProblemsSortedBySource(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, "log_level = \"loud\"\nrole = \"boss\"\n")
	_, err := loadWith(t, []string{"-config", file, "-population", "0", "-max-attempts", "0"},
		"LBD_NODE=a b", "LBD_HEARTBEAT_INTERVAL=1m")
	ps := problemsOf(t, err)
	var got []string
	for _, p := range ps {
		got = append(got, relPos(file, p.Pos))
	}
	want := []string{"lbd.hcl:1:1", "lbd.hcl:2:1", "LBD_HEARTBEAT_INTERVAL", "LBD_NODE",
		"flag -max-attempts", "flag -population", ""}
	if !slices.Equal(got, want) {
		t.Errorf("positions = %q, want %q; problems:%s", got, want, formatProblems(ps))
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(ps) {
		t.Errorf("Error() has %d lines, want one per problem (%d):\n%s", len(lines), len(ps), err)
	}
}

func TestLoadUnknownVariablesWarn(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, []string{"-role", "master"},
		"LBD_POPULATON=3", "LBD_API_TOKEN=secret-token-0123456789", "LBD_CONFIG=", "LBD_HTTP_ADDR=127.0.0.1:9000", "PATH=/bin")
	if len(c.Warnings) != 1 {
		t.Fatalf("Warnings = %q, want exactly one for LBD_POPULATON", c.Warnings)
	}
	want := `ignored variable LBD_POPULATON: no lbd setting has this name; did you mean "LBD_POPULATION"?`
	if c.Warnings[0] != want {
		t.Errorf("warning = %q, want %q", c.Warnings[0], want)
	}
	if c.HTTPAddr != "127.0.0.1:9000" {
		t.Errorf("HTTPAddr = %q, want 127.0.0.1:9000 from LBD_HTTP_ADDR", c.HTTPAddr)
	}
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out bytes.Buffer
		c, err := load([]string{"-role", "master", arg}, listEnvironment(nil), &out)
		if c != nil || !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: got (%v, %v), want (nil, flag.ErrHelp)", arg, c, err)
		}
		usage := out.String()
		if !strings.Contains(usage, "Every flag has a variable") {
			t.Errorf("%s: usage does not say that every flag has an LBD_* variable:\n%s", arg, usage)
		}
		for _, s := range settings {
			line := "  -" + s.flagName()
			if s.arg != "" {
				line += " " + s.arg
			}
			if !strings.Contains(usage, line+"\n\t"+s.help+" (default ") {
				t.Errorf("%s: usage lacks %q with its help and default", arg, line)
			}
			if !strings.Contains(usage, "["+s.envName()+"]") {
				t.Errorf("%s: usage lacks the variable %s", arg, s.envName())
			}
		}
	}
}

func TestLoadProcessEnvironment(t *testing.T) {
	t.Setenv("LBD_HANDLER_SHA256SUM", `["sha256sum", "-b"]`)
	t.Setenv("LBD_ROLE", "worker")
	t.Setenv("LBD_POPULATON", "3")
	var stderr bytes.Buffer
	c, err := Load(nil, os.LookupEnv, &stderr)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := c.Worker.Handlers["sha256sum"].Command; !slices.Equal(got, []string{"sha256sum", "-b"}) {
		t.Errorf("handler sha256sum command = %q, want [sha256sum -b]", got)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "LBD_POPULATON") {
		t.Errorf("Warnings = %q, want one about LBD_POPULATON", c.Warnings)
	}

	// A lookup that hides the process variables leaves only the named
	// settings it serves.
	c, err = Load([]string{"-builtins", "echo"}, func(name string) (string, bool) {
		if name == "LBD_ROLE" {
			return "worker", true
		}
		return "", false
	}, &stderr)
	if err != nil {
		t.Fatalf("Load with a custom lookup: %v", err)
	}
	if len(c.Worker.Handlers) != 0 || len(c.Warnings) != 0 {
		t.Errorf("custom lookup: Handlers = %v, Warnings = %q; want none", c.Worker.Handlers, c.Warnings)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing written outside -h", stderr.String())
	}
}
