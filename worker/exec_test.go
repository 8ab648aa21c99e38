package worker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newExec(t *testing.T, command []string, dir string, env map[string]string, maxOutput int64) Handler {
	t.Helper()
	h, err := NewExec(command, dir, env, maxOutput)
	if err != nil {
		t.Fatalf("NewExec(%q): %v", command, err)
	}
	return h
}

func waitProcessesGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still alive %s after the attempt ended, want its whole group killed", pid, within)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	script := `echo $$ > "$PID_FILE"; sleep 300 & echo $! >> "$PID_FILE"; sleep 300 & echo $! >> "$PID_FILE"; wait`
	h := newExec(t, []string{"sh", "-c", script}, "", map[string]string{"PID_FILE": pidFile}, 1<<20)
	_, _, c := connectWorker(t, Config{Slots: 1, Handlers: map[string]Handler{"exec": h}})

	c.assign(t, "hang", "exec", "", 500*time.Millisecond)
	res := c.result(t, "hang")
	if res.OK || res.Error != "timed out after 500ms" {
		t.Errorf("result ok=%v error=%q, want error %q", res.OK, res.Error, "timed out after 500ms")
	}
	pids := readPIDs(t, pidFile, 3)
	waitProcessesGone(t, pids, 2*time.Second)
}

func TestExecSIGKILLAfterGrace(t *testing.T) {
	t.Parallel() // waits out a multi-second grace
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	// The shell and its child ignore SIGTERM, so only SIGKILL stops them.
	script := `trap '' TERM; sleep 300 & echo $! > "$PID_FILE"; wait`
	h := newExec(t, []string{"sh", "-c", script}, "", map[string]string{"PID_FILE": pidFile}, 1<<20)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Handle(ctx, nil)
		done <- err
	}()
	pids := readPIDs(t, pidFile, 1)
	canceled := time.Now()
	cancel()

	select {
	case err := <-done:
		if err == nil {
			t.Error("Handle returned nil after cancel, want an error")
		}
	case <-time.After(killGrace + waitLimit):
		t.Fatalf("Handle did not return within %s of cancel", killGrace+waitLimit)
	}
	if took := time.Since(canceled); took < killGrace-100*time.Millisecond {
		t.Errorf("Handle returned %s after cancel, want about the %s SIGTERM grace", took, killGrace)
	}
	waitProcessesGone(t, pids, 2*time.Second)
}

func TestExecExitStatusCarriesStderrTail(t *testing.T) {
	h := newExec(t, []string{"sh", "-c", "echo first >&2; echo oops >&2; exit 3"}, "", nil, 1<<20)
	_, err := h.Handle(context.Background(), nil)
	if err == nil || err.Error() != "exit status 3: first\noops" {
		t.Errorf("error = %v, want %q", err, "exit status 3: first\noops")
	}

	long := `head -c 5000 /dev/zero | tr '\0' a >&2; echo END >&2; exit 1`
	h = newExec(t, []string{"sh", "-c", long}, "", nil, 1<<20)
	_, err = h.Handle(context.Background(), nil)
	if err == nil {
		t.Fatal("error = nil, want exit status 1")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "exit status 1: ") || !strings.HasSuffix(msg, "aaaEND") {
		t.Errorf("error = %.60q...%q, want exit status 1 and the end of stderr", msg, msg[max(0, len(msg)-10):])
	}
	if tail := strings.TrimPrefix(msg, "exit status 1: "); len(tail) > stderrTailBytes {
		t.Errorf("stderr tail is %d bytes, want at most %d", len(tail), stderrTailBytes)
	}

	h = newExec(t, []string{"false"}, "", nil, 1<<20)
	if _, err = h.Handle(context.Background(), nil); err == nil || err.Error() != "exit status 1 (stderr was empty)" {
		t.Errorf("error = %v, want %q", err, "exit status 1 (stderr was empty)")
	}
}

func TestExecOutputCap(t *testing.T) {
	h := newExec(t, []string{"yes"}, "", nil, 1000)
	start := time.Now()
	_, err := h.Handle(context.Background(), nil)
	if err == nil || err.Error() != "output exceeds max_output_bytes (1000 bytes)" {
		t.Errorf("error = %v, want %q", err, "output exceeds max_output_bytes (1000 bytes)")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("capped program took %s to stop, want well under the SIGKILL grace", took)
	}
}

func TestExecStdinStdoutDirEnv(t *testing.T) {
	h := newExec(t, []string{"cat"}, "", nil, 1<<20)
	payload := strings.Repeat("payload line; $HOME `id` stays literal\n", 5000)
	out, err := h.Handle(context.Background(), []byte(payload))
	if err != nil || string(out) != payload {
		t.Errorf("cat: err=%v, output of %d bytes equal=%v, want the %d-byte payload back", err, len(out), string(out) == payload, len(payload))
	}

	dir := t.TempDir()
	h = newExec(t, []string{"sh", "-c", `printf '%s|' "$GREETING"; pwd -P`}, dir, map[string]string{"GREETING": "hi there"}, 1<<20)
	out, err = h.Handle(context.Background(), nil)
	realDir, _ := filepath.EvalSymlinks(dir)
	if want := "hi there|" + realDir + "\n"; err != nil || string(out) != want {
		t.Errorf("env and dir: err=%v output=%q, want %q", err, out, want)
	}
}

func TestExecOrphanHoldingPipes(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := `sleep 300 & echo $! > "$PID_FILE"; echo done`
	h := newExec(t, []string{"sh", "-c", script}, "", map[string]string{"PID_FILE": pidFile}, 1<<20)

	start := time.Now()
	out, err := h.Handle(context.Background(), nil)
	if err != nil || string(out) != "done\n" {
		t.Errorf("err=%v output=%q, want output %q", err, out, "done\n")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Handle took %s with an orphan holding stdout, want about %s", took, pipeCloseDelay)
	}
	waitProcessesGone(t, readPIDs(t, pidFile, 1), 2*time.Second)
}

func TestNewExecRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		command   []string
		dir       string
		env       map[string]string
		maxOutput int64
		want      string
	}{
		{"no command", nil, "", nil, 100, "empty command"},
		{"empty program", []string{""}, "", nil, 100, "empty command"},
		{"unknown program", []string{"lbd-no-such-program", "-x"}, "", nil, 100, `program "lbd-no-such-program" not found`},
		{"not executable", []string{file}, "", nil, 100, "not found or not executable"},
		{"zero max output", []string{"true"}, "", nil, 0, "invalid max output 0 bytes"},
		{"missing dir", []string{"true"}, filepath.Join(dir, "nope"), nil, 100, "invalid working directory"},
		{"dir is a file", []string{"true"}, file, nil, 100, "not a directory"},
		{"bad env key", []string{"true"}, "", map[string]string{"A=B": "x"}, 100, `invalid environment variable name "A=B"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewExec(tc.command, tc.dir, tc.env, tc.maxOutput)
			if err == nil {
				t.Fatalf("NewExec returned a handler %v, want an error containing %q", h, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNewExecResolvesRelativeToDir(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho from-script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newExec(t, []string{"./run.sh"}, dir, nil, 100)
	out, err := h.Handle(context.Background(), nil)
	if err != nil || string(out) != "from-script\n" {
		t.Errorf("err=%v output=%q, want %q", err, out, "from-script\n")
	}
}
