package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
	"github.com/lbd-dev/lbd/scheduler"
)

// startDevNode starts a master with a local worker that runs echo and
// sleep, on free loopback ports, and returns its API address.
func startDevNode(t *testing.T) string {
	t.Helper()
	cfg := config.Defaults()
	cfg.Dev = true
	cfg.Node = "cli-master"
	cfg.Bind, cfg.TaskAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Durability = config.DurabilityNone
	cfg.Worker.Builtins = []string{config.BuiltinEcho, config.BuiltinSleep}
	cfg.Worker.Population = 2
	cfg.Worker.DrainTimeout = time.Second
	n, err := daemon.Start(context.Background(), cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start dev node: %v", err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n.HTTPAddr()
}

// checkOut fails the test unless the command exited with wantCode and its
// stdout, or its stderr for a failed command, contains every one of parts.
func (r cliResult) checkOut(t *testing.T, wantCode int, parts ...string) {
	t.Helper()
	if r.code != wantCode {
		t.Errorf("exit code %d, want %d; stdout %q; stderr %q", r.code, wantCode, r.stdout, r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(r.stdout+r.stderr, p) {
			t.Errorf("output %q (stderr %q) does not contain %q", r.stdout, r.stderr, p)
		}
	}
}

func runCLI(args ...string) cliResult {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func submitTask(t *testing.T, addr, typ, payload string, attempts int) string {
	t.Helper()
	id, err := client.New(addr).Submit(context.Background(), api.TaskRequest{Type: typ, Payload: payload, MaxAttempts: attempts})
	if err != nil {
		t.Fatalf("submit %s: %v", typ, err)
	}
	return id
}

func TestClusterCommandsOnDevNode(t *testing.T) {
	addr := startDevNode(t)
	okID := submitTask(t, addr, "echo", "hello", 0)
	badID := submitTask(t, addr, "sleep", "nonsense", 1)

	runCLI("task", "-http-addr", addr, "-wait", okID).checkOut(t, exitOK, "status    succeeded", "output    hello")
	runCLI("task", "-http-addr", addr, "-wait", badID).checkOut(t, exitFailure, "status    failed", "invalid sleep payload")
	runCLI("status", "-http-addr", addr).checkOut(t, exitOK, "master", "cli-master", "1 succeeded, 1 failed")
	runCLI("members", "-http-addr", addr).checkOut(t, exitOK, "cli-master-worker", "worker", "alive")
	runCLI("tasks", "-http-addr", addr, "-status", "failed").checkOut(t, exitOK, badID, "failed")

	r := runCLI("tasks", "-http-addr", addr, "-limit", "1", "-json")
	r.check(t, exitOK)
	var page api.TaskList
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
		t.Fatalf("tasks -json output %q: %v", r.stdout, err)
	}
	if len(page.Tasks) != 1 || page.Tasks[0].ID != badID || page.Next != badID {
		t.Errorf("first page %+v, want the newest task %s and next %s", page, badID, badID)
	}
	runCLI("tasks", "-http-addr", addr, "-limit", "1", "-after", page.Next).checkOut(t, exitOK, okID)

	runCLI("retry", "-http-addr", addr, badID).checkOut(t, exitOK, "task "+badID+" is ") // queued, or running at once on the idle worker
	runCLI("retry", "-http-addr", addr, okID).checkOut(t, exitRejected, "only a failed task can be retried")

	longID := submitTask(t, addr, "sleep", "5m", 0)
	runCLI("cancel", "-http-addr", addr, longID).checkOut(t, exitOK, "is canceled")
	runCLI("cancel", "-http-addr", addr, longID).checkOut(t, exitRejected, "already canceled")
	runCLI("task", "-http-addr", addr, "nosuchtask").checkOut(t, exitRejected, "not found")
	runCLI("drain", "-http-addr", addr, "nosuchworker").checkOut(t, exitRejected, "not connected")
}

func TestClusterCommandsUsageAndUnreachable(t *testing.T) {
	down := closedAddr(t)
	for _, args := range [][]string{
		{"status"}, {"members"}, {"tasks"}, {"task", "x"}, {"cancel", "x"}, {"retry", "x"}, {"drain", "w"},
	} {
		full := append([]string{args[0], "-http-addr", down}, args[1:]...)
		runCLI(full...).checkOut(t, exitUnreachable, "master unreachable")
		if len(args) > 1 {
			runCLI(append(full, "extra")...).checkOut(t, exitUsage, "unexpected argument")
		}
	}
	runCLI("task").checkOut(t, exitUsage, "missing task ID")
	runCLI("drain").checkOut(t, exitUsage, "missing NODE")
	runCLI("tasks", "-limit", "0").checkOut(t, exitUsage, "invalid -limit 0")
	runCLI("status", "-h").checkOut(t, exitOK, "usage: lbd status")
	missing := filepath.Join(t.TempDir(), "no-ca.pem")
	runCLI("status", "-http-addr", "https://"+down, "-api-ca-file", missing).checkOut(t, exitUsage, "invalid CA file")
}

func TestPrintTaskShowsRunAt(t *testing.T) {
	var out strings.Builder
	task := api.Task{
		ID: "t1", Type: "echo", Queue: "low", Priority: 3, Status: scheduler.StatusScheduled, MaxAttempts: 3,
		Created: time.Now(), RunAt: time.Now().Add(time.Minute),
	}
	if err := printTask(&out, task); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"queue     low (priority 3)", "run at    ", "(in "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lbd task output lacks %q:\n%s", want, out.String())
		}
	}
}
