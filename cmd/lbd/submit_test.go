package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

// echoWorker completes "echo" tasks with their payload as output and fails
// "fail" tasks, from its own goroutine as a connected worker would.
type echoWorker struct {
	sched   *scheduler.Scheduler
	handle  atomic.Pointer[scheduler.WorkerHandle]
	assigns chan scheduler.Assignment
	quit    chan struct{}
}

func (w *echoWorker) Assign(a scheduler.Assignment) { w.assigns <- a }

func (w *echoWorker) Cancel(string, uint32) {}

func (w *echoWorker) run(ready <-chan struct{}) {
	<-ready
	for {
		select {
		case <-w.quit:
			return
		case a := <-w.assigns:
			r := scheduler.Result{ID: a.ID, Attempt: a.Attempt, OK: a.Type == "echo", Output: a.Payload}
			if !r.OK {
				r.Error = "failed on purpose: " + string(a.Payload)
			}
			w.sched.Complete(w.handle.Load(), r)
		}
	}
}

// startMaster runs a real scheduler with one echo worker behind the API on
// a loopback test server and returns its host:port.
func startMaster(t *testing.T, workers bool) (string, *scheduler.Scheduler) {
	t.Helper()
	sched, err := scheduler.New(scheduler.Config{
		MaxAttempts:     1,
		TaskTimeout:     30 * time.Second,
		MaxQueuedTasks:  100_000,
		MaxQueuedBytes:  1 << 30,
		MaxPayloadBytes: 1 << 20,
		Store:           store.NewMemory(),
	})
	if err != nil {
		t.Fatalf("new scheduler: %v", err)
	}
	t.Cleanup(sched.Stop)

	if workers {
		w := &echoWorker{sched: sched, assigns: make(chan scheduler.Assignment, 64), quit: make(chan struct{})}
		ready, done := make(chan struct{}), make(chan struct{})
		go func() { w.run(ready); close(done) }()
		spec := scheduler.WorkerSpec{Name: "w1", Addr: "10.0.0.7:7947", Slots: 8, Types: []string{"echo", "fail"}}
		h, _, err := sched.AddWorker(spec, w)
		if err != nil {
			t.Fatalf("add worker: %v", err)
		}
		w.handle.Store(h)
		close(ready)
		t.Cleanup(func() { close(w.quit); <-done })
	}

	srv := httptest.NewServer(api.New(sched, api.Options{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), sched
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func submit(stdin string, args ...string) cliResult {
	var out, errOut bytes.Buffer
	code := runSubmit(args, strings.NewReader(stdin), &out, &errOut)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// check fails the test unless the command exited with wantCode and its
// stderr contains every one of parts.
func (r cliResult) check(t *testing.T, wantCode int, parts ...string) {
	t.Helper()
	if r.code != wantCode {
		t.Errorf("exit code %d, want %d; stdout %q; stderr %q", r.code, wantCode, r.stdout, r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(r.stderr, p) {
			t.Errorf("stderr %q does not contain %q", r.stderr, p)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSubmitPrintsID(t *testing.T) {
	addr, sched := startMaster(t, false)
	r := submit("", "-http-addr", addr, "-type", "echo", "-timeout", "45s", "-max-attempts", "2", "-key", "k1", "hello")
	r.check(t, exitOK)

	id := strings.TrimSpace(r.stdout)
	task, err := sched.Get(id)
	if err != nil {
		t.Fatalf("get task %q printed by submit: %v", id, err)
	}
	if task.Type != "echo" || task.PayloadSize != 5 || task.Timeout != 45*time.Second || task.MaxAttempts != 2 || task.Key != "k1" {
		t.Errorf("task %+v, want type echo, 5 payload bytes, timeout 45s, 2 attempts, key k1", task)
	}

	r = submit("", "-http-addr", addr, "-type", "echo", "-json", "x")
	var out api.SubmitResponse
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.ID == "" {
		t.Errorf("-json output %q: %v, want {\"id\": ...}", r.stdout, err)
	}
}

func TestSubmitWaitPrintsOutput(t *testing.T) {
	addr, _ := startMaster(t, true)
	r := submit("", "-http-addr", addr, "-type", "echo", "-wait", "hello world")
	r.check(t, exitOK)
	if r.stdout != "hello world" {
		t.Errorf("stdout %q, want the output \"hello world\"", r.stdout)
	}

	r = submit("", "-http-addr", addr, "-type", "fail", "-wait", "p")
	r.check(t, exitFailure, "failed", "failed on purpose: p")
	if r.stdout != "" {
		t.Errorf("stdout %q for a failed task, want nothing", r.stdout)
	}

	r = submit("", "-http-addr", addr, "-type", "echo", "-wait", "-json", "j")
	var task api.Task
	if err := json.Unmarshal([]byte(r.stdout), &task); err != nil {
		t.Fatalf("-wait -json output %q: %v", r.stdout, err)
	}
	if task.Status != scheduler.StatusSucceeded || task.Output != "j" {
		t.Errorf("task %s with output %q, want succeeded with j", task.Status, task.Output)
	}
}

func TestSubmitPayloadSources(t *testing.T) {
	addr, _ := startMaster(t, true)
	binary := "\xff\x00\xfebin"

	r := submit(binary, "-http-addr", addr, "-type", "echo", "-wait", "-")
	r.check(t, exitOK)
	if r.stdout != binary {
		t.Errorf("stdin payload came back as %q, want %q", r.stdout, binary)
	}

	path := writeFile(t, "payload.bin", binary+"file")
	r = submit("", "-http-addr", addr, "-type", "echo", "-wait", "-payload-file", path)
	r.check(t, exitOK)
	if r.stdout != binary+"file" {
		t.Errorf("file payload came back as %q, want %q", r.stdout, binary+"file")
	}

	r = submit("", "-http-addr", addr, "-type", "echo", "-payload-file", filepath.Join(t.TempDir(), "missing"))
	r.check(t, exitUsage, "read payload", "no such file")
}

func TestSubmitUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no type", []string{"x"}, "missing -type"},
		{"two payloads", []string{"-type", "echo", "a", "b"}, "2 payload arguments"},
		{"payload and file", []string{"-type", "echo", "-payload-file", "p", "a"}, "both a payload argument and -payload-file"},
		{"negative timeout", []string{"-type", "echo", "-timeout", "-1s"}, "invalid -timeout -1s"},
		{"bad timeout", []string{"-type", "echo", "-timeout", "soon"}, "invalid value \"soon\""},
		{"negative attempts", []string{"-type", "echo", "-max-attempts", "-1"}, "invalid -max-attempts -1"},
		{"batch without file", []string{"-type", "echo", "-batch", "5"}, "-batch applies only with -f"},
		{"file and type", []string{"-f", "t.jsonl", "-type", "echo"}, "-type sets a single task"},
		{"file and payload", []string{"-f", "t.jsonl", "x"}, "unexpected argument \"x\""},
		{"zero batch", []string{"-f", "t.jsonl", "-batch", "0"}, "invalid -batch 0"},
		{"unknown flag", []string{"-typo"}, "flag provided but not defined: -typo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			submit("", append([]string{"-http-addr", closedAddr(t)}, c.args...)...).check(t, exitUsage, c.want)
		})
	}

	r := submit("", "-h")
	r.check(t, exitOK, "usage: lbd submit")
}

func TestSubmitUnreachable(t *testing.T) {
	r := submit("", "-http-addr", closedAddr(t), "-type", "echo", "x")
	r.check(t, exitUnreachable, "master unreachable", "connection refused")

	t.Setenv("LBD_HTTP_ADDR", closedAddr(t))
	submit("", "-type", "echo", "x").check(t, exitUnreachable, os.Getenv("LBD_HTTP_ADDR"))

	submit("", "-http-addr", "ftp://x", "-type", "echo").check(t, exitUsage, "invalid master address")
}

func TestSubmitAddressFromEnvironment(t *testing.T) {
	addr, _ := startMaster(t, true)
	t.Setenv("LBD_HTTP_ADDR", addr)
	r := submit("", "-type", "echo", "-wait", "via env")
	r.check(t, exitOK)
	if r.stdout != "via env" {
		t.Errorf("stdout %q, want \"via env\"", r.stdout)
	}
}

func TestSubmitRejected(t *testing.T) {
	addr, _ := startMaster(t, false)
	submit("", "-http-addr", addr, "-type", "no spaces").check(t, exitRejected, "type:", "(HTTP 400)")
}

// tasksFile renders n echo tasks as JSON Lines, with a blank line after
// every tenth.
func tasksFile(n int, typeOf func(i int) string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"type\": %q, \"payload\": \"p%d\"}\n", typeOf(i), i)
		if i%10 == 9 {
			b.WriteString("\n   \n")
		}
	}
	return b.String()
}

func echoType(int) string { return "echo" }

func TestSubmitFilePrintsIDsInOrder(t *testing.T) {
	addr, sched := startMaster(t, true)
	path := writeFile(t, "tasks.jsonl", tasksFile(25, echoType))

	r := submit("", "-http-addr", addr, "-f", path, "-batch", "10")
	r.check(t, exitOK)
	ids := strings.Fields(r.stdout)
	if len(ids) != 25 {
		t.Fatalf("printed %d ids, want 25: %q", len(ids), r.stdout)
	}
	for i, id := range ids {
		task, err := sched.Get(id)
		if err != nil {
			t.Fatalf("id %d %q: %v", i, id, err)
		}
		if want := len(fmt.Sprintf("p%d", i)); task.PayloadSize != want {
			t.Errorf("id %d has a payload of %d bytes, want %d: ids are out of order", i, task.PayloadSize, want)
		}
	}
}

func TestSubmitFileFromStdinAsJSON(t *testing.T) {
	addr, _ := startMaster(t, true)
	r := submit(tasksFile(3, echoType), "-http-addr", addr, "-f", "-", "-json")
	r.check(t, exitOK)

	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3: %q", len(lines), r.stdout)
	}
	var last struct {
		Line int    `json:"line"`
		ID   string `json:"id"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil || last.Line != 3 || last.ID == "" {
		t.Errorf("third line %q: %v; want line 3 with an id", lines[2], err)
	}
}

func TestSubmitFileBadLineSendsNothing(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"unknown field", "{\"type\": \"echo\"}\n\n{\"type\": \"echo\", \"prio\": 1}\n", "tasks.jsonl:3: prio: unknown field"},
		{"missing type", "{\"type\": \"echo\"}\n{\"payload\": \"x\"}\n", "tasks.jsonl:2: type: missing"},
		{"bad timeout", "{\"type\": \"echo\", \"timeout\": \"5 minutes\"}\n", "tasks.jsonl:1: timeout: invalid duration"},
		{"wrong type", "{\"type\": \"echo\", \"max_attempts\": \"2\"}\n", "tasks.jsonl:1: max_attempts: expected an integer"},
		{"not json", "{\"type\": \"echo\"}\nhello\n", "tasks.jsonl:2: line is not valid JSON"},
		{"two values", "{\"type\": \"echo\"} {\"type\": \"echo\"}\n", "tasks.jsonl:1: line has data after the JSON value"},
		{"array", "[{\"type\": \"echo\"}]\n", "tasks.jsonl:1: line must be a JSON object"},
		{"blank", "\n  \n", "tasks.jsonl: no task"},
	}
	addr, sched := startMaster(t, true)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "tasks.jsonl", c.content)
			r := submit("", "-http-addr", addr, "-f", path)
			r.check(t, exitUsage, c.want)
		})
	}
	if n := sched.Stats().Submitted; n != 0 {
		t.Errorf("%d tasks submitted from bad files, want 0", n)
	}

	submit("", "-http-addr", addr, "-f", filepath.Join(t.TempDir(), "none.jsonl")).check(t, exitUsage, "no such file")
}

func TestSubmitFileRejectedBatchNamesLine(t *testing.T) {
	addr, sched := startMaster(t, false)
	content := tasksFile(4, echoType) + "{\"type\": \"a/b\"}\n{\"type\": \"echo\"}\n"
	path := writeFile(t, "tasks.jsonl", content)

	r := submit("", "-http-addr", addr, "-f", path, "-batch", "2")
	r.check(t, exitRejected, path+":5: type:", "(HTTP 400)", "the 4 tasks before line 5 were submitted")
	if ids := strings.Fields(r.stdout); len(ids) != 4 {
		t.Errorf("printed %d ids, want the 4 submitted: %q", len(ids), r.stdout)
	}
	if n := sched.Stats().Submitted; n != 4 {
		t.Errorf("master has %d tasks, want 4", n)
	}
}

func TestSubmitFileWait(t *testing.T) {
	addr, _ := startMaster(t, true)
	failEveryTenth := func(i int) string {
		if i%10 == 3 {
			return "fail"
		}
		return "echo"
	}
	path := writeFile(t, "tasks.jsonl", tasksFile(100, failEveryTenth))

	r := submit("", "-http-addr", addr, "-f", path, "-batch", "7", "-wait")
	r.check(t, exitFailure)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 101 {
		t.Fatalf("got %d lines, want 100 outcomes and a summary:\n%s", len(lines), r.stdout)
	}
	if summary := lines[100]; summary != "90 succeeded, 10 failed" {
		t.Errorf("summary %q, want \"90 succeeded, 10 failed\"", summary)
	}
	outcomes := strings.Join(lines[:100], "\n")
	for _, want := range []string{" succeeded p42\n", " failed failed on purpose: p93"} {
		if !strings.Contains(outcomes, want) {
			t.Errorf("outcomes do not contain %q:\n%s", want, outcomes)
		}
	}

	r = submit(tasksFile(5, echoType), "-http-addr", addr, "-f", "-", "-wait")
	r.check(t, exitOK)
	if !strings.HasSuffix(r.stdout, "5 succeeded, 0 failed\n") {
		t.Errorf("stdout %q, want it to end with the summary \"5 succeeded, 0 failed\"", r.stdout)
	}
}

func TestSubmitFileWaitJSON(t *testing.T) {
	addr, _ := startMaster(t, true)
	r := submit(tasksFile(3, echoType), "-http-addr", addr, "-f", "-", "-wait", "-json")
	r.check(t, exitOK, "3 succeeded, 0 failed")

	dec := json.NewDecoder(strings.NewReader(r.stdout))
	n := 0
	for {
		var task api.Task
		err := dec.Decode(&task)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stdout is not JSON lines of tasks: %v\n%s", err, r.stdout)
		}
		if task.Status != scheduler.StatusSucceeded {
			t.Errorf("task %s is %s, want succeeded", task.ID, task.Status)
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d tasks printed, want 3", n)
	}
}

func TestOutcomeText(t *testing.T) {
	cases := []struct {
		task api.Task
		want string
	}{
		{api.Task{Status: scheduler.StatusSucceeded, Output: "plain text\n"}, "plain text"},
		{api.Task{Status: scheduler.StatusSucceeded, Output: "two\nlines\n"}, `"two\nlines"`},
		{api.Task{Status: scheduler.StatusSucceeded, OutputBase64: "/wA="}, `"\xff\x00"`},
		{api.Task{Status: scheduler.StatusFailed, Output: "ignored", Error: "exit status 2"}, "exit status 2"},
	}
	for _, c := range cases {
		if got := outcomeText(c.task); got != c.want {
			t.Errorf("outcomeText(%+v) = %q, want %q", c.task, got, c.want)
		}
	}
}

func TestSubmitQueueFlagsReachTheTask(t *testing.T) {
	addr, sched := startMaster(t, false)
	var out, errOut strings.Builder
	code := runSubmit([]string{"-http-addr", addr, "-type", "echo", "-queue", "low", "-priority", "7", "-delay", "1h", "x"},
		strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	task, err := sched.Get(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if task.Queue != "low" || task.Priority != 7 || task.Status != "scheduled" {
		t.Errorf("task = queue %q, priority %d, status %s; want low, 7, scheduled", task.Queue, task.Priority, task.Status)
	}

	code = runSubmit([]string{"-http-addr", addr, "-type", "echo", "-delay", "1s", "-run-at", "2030-01-01T00:00:00Z", "x"},
		strings.NewReader(""), &out, &errOut)
	if code != exitUsage {
		t.Errorf("-delay with -run-at: exit %d, want %d", code, exitUsage)
	}
}
