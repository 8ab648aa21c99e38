package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

// testWorker is a worker slot pool that runs in the test process: "echo"
// succeeds with the payload as output, "fail" fails with the payload in the
// error, and "hold" runs until the scheduler cancels it.
type testWorker struct {
	sched  *scheduler.Scheduler
	handle *scheduler.WorkerHandle
	ready  chan struct{} // closed once handle is set
	events chan workerEvent
	quit   chan struct{}
	done   chan struct{}
}

type workerEvent struct {
	assign scheduler.Assignment
	cancel bool
}

// Assign queues the assignment. The scheduler never has more attempts
// outstanding on a worker than its slots, so the buffer never fills.
func (w *testWorker) Assign(a scheduler.Assignment) {
	w.events <- workerEvent{assign: a}
}

func (w *testWorker) Cancel(id string, attempt uint32) {
	w.events <- workerEvent{assign: scheduler.Assignment{ID: id, Attempt: attempt}, cancel: true}
}

func (w *testWorker) run() {
	defer close(w.done)
	<-w.ready
	running := map[string]scheduler.Assignment{}
	for {
		select {
		case <-w.quit:
			return
		case ev := <-w.events:
			w.handle1(ev, running)
		}
	}
}

func (w *testWorker) handle1(ev workerEvent, running map[string]scheduler.Assignment) {
	a := ev.assign
	if ev.cancel {
		if _, ok := running[a.ID]; ok {
			delete(running, a.ID)
			w.sched.Complete(w.handle, scheduler.Result{ID: a.ID, Attempt: a.Attempt, Error: "canceled"})
		}
		return
	}
	switch a.Type {
	case "echo":
		w.sched.Complete(w.handle, scheduler.Result{ID: a.ID, Attempt: a.Attempt, OK: true, Output: a.Payload})
	case "fail":
		w.sched.Complete(w.handle, scheduler.Result{ID: a.ID, Attempt: a.Attempt, Error: "failed on purpose: " + string(a.Payload)})
	default:
		running[a.ID] = a
	}
}

// addWorker connects a test worker with the given name and slot count.
func addWorker(t *testing.T, sched *scheduler.Scheduler, name string, slots int) *testWorker {
	t.Helper()
	w := &testWorker{
		sched:  sched,
		ready:  make(chan struct{}),
		events: make(chan workerEvent, 4*slots+16),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go w.run()
	spec := scheduler.WorkerSpec{Name: name, Addr: "127.0.0.1:1", Slots: slots, Types: []string{"echo", "fail", "hold"}}
	h, _, err := sched.AddWorker(spec, w)
	if err != nil {
		close(w.quit)
		t.Fatalf("add worker %s: %v", name, err)
	}
	w.handle = h
	close(w.ready)
	t.Cleanup(func() {
		sched.RemoveWorker(h, "test over")
		close(w.quit)
		<-w.done
	})
	return w
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setup is what a test may change before env starts.
type setup struct {
	cfg     scheduler.Config
	opts    api.Options
	workers int // echo workers to connect, 1 by default
}

type env struct {
	t     *testing.T
	sched *scheduler.Scheduler
	api   *api.Server
	srv   *httptest.Server
	logs  *syncBuffer
}

// newEnv starts a real scheduler on a memory store, the API over it on a
// loopback httptest server, and one connected test worker named w1.
func newEnv(t *testing.T, change ...func(*setup)) *env {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	su := &setup{
		cfg: scheduler.Config{
			MaxAttempts:     3,
			TaskTimeout:     30 * time.Second,
			RetryBackoff:    10 * time.Millisecond,
			MaxQueuedTasks:  100_000,
			MaxQueuedBytes:  1 << 30,
			MaxPayloadBytes: 1 << 20,
			Store:           store.NewMemory(),
			Logger:          logger,
		},
		opts:    api.Options{MaxPayloadBytes: 1 << 20, Logger: logger, Node: "master-1", Version: "1.2.3"},
		workers: 1,
	}
	for _, f := range change {
		f(su)
	}

	sched, err := scheduler.New(su.cfg)
	if err != nil {
		t.Fatalf("new scheduler: %v", err)
	}
	t.Cleanup(sched.Stop)
	if su.workers > 0 {
		addWorker(t, sched, "w1", 8)
	}

	srv := api.New(sched, su.opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{t: t, sched: sched, api: srv, srv: ts, logs: logs}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and checks that the response is JSON.
func (e *env) do(method, path, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read response of %s %s: %v", req.Method, req.URL.Path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// decode unmarshals the body into v after checking the status code.
func (r response) decode(t *testing.T, wantStatus int, v any) {
	t.Helper()
	if r.status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", r.status, wantStatus, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode body %s: %v", r.body, err)
	}
}

// checkError checks an error response: its status, its field and that its
// message contains every one of parts.
func (r response) checkError(t *testing.T, wantStatus int, wantField string, parts ...string) api.ErrorResponse {
	t.Helper()
	var body api.ErrorResponse
	r.decode(t, wantStatus, &body)
	if body.Field != wantField {
		t.Errorf("field %q, want %q (error %q)", body.Field, wantField, body.Error)
	}
	for _, p := range parts {
		if !strings.Contains(body.Error, p) {
			t.Errorf("error %q does not contain %q", body.Error, p)
		}
	}
	return body
}

// submit posts one task and returns its id.
func (e *env) submit(body string) string {
	e.t.Helper()
	var out api.SubmitResponse
	e.do("POST", "/v1/tasks", body).decode(e.t, http.StatusCreated, &out)
	if out.ID == "" {
		e.t.Fatalf("submit %s returned an empty id", body)
	}
	return out.ID
}

// wait returns the task once it is final, failing the test after 10 s.
func (e *env) wait(id string) api.Task {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var task api.Task
		e.do("GET", "/v1/tasks/"+id+"?wait=5s", "").decode(e.t, http.StatusOK, &task)
		if task.Status.Final() {
			return task
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s is still %s after 10 s, want a final state", id, task.Status)
		}
	}
}

// poll calls cond until it returns true, failing the test after 10 s.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10 s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
