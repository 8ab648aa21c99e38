package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

// echoWorker completes "echo" tasks with their payload and "fail" tasks
// with an error, from its own goroutine as a connected worker would. Other
// types stay queued because it does not run them.
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
				r.Error = "failed on purpose"
			}
			w.sched.Complete(w.handle.Load(), r)
		}
	}
}

// newMaster starts a real scheduler with one echo worker and the API on a
// loopback test server.
func newMaster(t *testing.T) (*httptest.Server, *scheduler.Scheduler) {
	t.Helper()
	sched, err := scheduler.New(scheduler.Config{
		MaxAttempts:     1,
		TaskTimeout:     30 * time.Second,
		MaxQueuedTasks:  10_000,
		MaxQueuedBytes:  1 << 30,
		MaxPayloadBytes: 1 << 20,
		Store:           store.NewMemory(),
	})
	if err != nil {
		t.Fatalf("new scheduler: %v", err)
	}
	t.Cleanup(sched.Stop)

	w := &echoWorker{sched: sched, assigns: make(chan scheduler.Assignment, 64), quit: make(chan struct{})}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() { w.run(ready); close(done) }()
	h, _, err := sched.AddWorker(scheduler.WorkerSpec{Name: "w1", Addr: "127.0.0.1:1", Slots: 4, Types: []string{"echo", "fail"}}, w)
	if err != nil {
		t.Fatalf("add worker: %v", err)
	}
	w.handle.Store(h)
	close(ready)
	t.Cleanup(func() { close(w.quit); <-done })

	srv := httptest.NewServer(api.New(sched, api.Options{Node: "m1", Version: "test"}))
	t.Cleanup(srv.Close)
	return srv, sched
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

func TestSubmitWaitAndStatus(t *testing.T) {
	srv, _ := newMaster(t)
	c := New(srv.URL + "/")
	ctx := context.Background()

	id, err := c.Submit(ctx, api.TaskRequest{Type: "echo", Payload: "hello"})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	task, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if task.ID != id || task.Status != scheduler.StatusSucceeded || task.Output != "hello" {
		t.Errorf("task %s %s output %q, want %s succeeded output hello", task.ID, task.Status, task.Output, id)
	}

	got, err := c.Get(ctx, id)
	if err != nil || got.Output != "hello" {
		t.Errorf("get: %+v, %v; want output hello", got, err)
	}

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Node != "m1" || st.Submitted != 1 || st.Succeeded != 1 || st.Workers != 1 {
		t.Errorf("status %+v, want node m1, 1 submitted, 1 succeeded, 1 worker", st)
	}

	workers, err := c.Workers(ctx)
	if err != nil {
		t.Fatalf("workers: %v", err)
	}
	if len(workers) != 1 || workers[0].Node != "w1" || workers[0].Slots != 4 {
		t.Errorf("workers %+v, want w1 with 4 slots", workers)
	}
}

func TestHostPortAddress(t *testing.T) {
	srv, _ := newMaster(t)
	c := New(strings.TrimPrefix(srv.URL, "http://"))
	if _, err := c.Status(context.Background()); err != nil {
		t.Errorf("status through host:port address: %v", err)
	}
}

func TestSubmitBatchAndBinaryOutput(t *testing.T) {
	srv, _ := newMaster(t)
	c := New(srv.URL)
	ctx := context.Background()

	ids, err := c.SubmitBatch(ctx, []api.TaskRequest{
		{Type: "echo", Payload: "one"},
		{Type: "echo", PayloadBase64: "/wD+"}, // bytes ff 00 fe
	})
	if err != nil {
		t.Fatalf("submit batch: %v", err)
	}
	if len(ids) != 2 {
		t.Fatalf("got %d ids, want 2", len(ids))
	}
	task, err := c.Wait(ctx, ids[1])
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	out, err := task.OutputBytes()
	if err != nil || string(out) != "\xff\x00\xfe" {
		t.Errorf("output %q, %v; want bytes ff 00 fe", out, err)
	}

	_, err = c.SubmitBatch(ctx, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Field != "tasks" {
		t.Errorf("empty batch: %v, want a 400 APIError on field tasks", err)
	}
}

func TestAPIErrors(t *testing.T) {
	srv, _ := newMaster(t)
	c := New(srv.URL)
	ctx := context.Background()

	_, err := c.SubmitBatch(ctx, []api.TaskRequest{{Type: "echo"}, {Type: "echo", Timeout: "soon"}})
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("bad timeout: %v, want an *APIError", err)
	}
	if apiErr.StatusCode != 400 || apiErr.Field != "tasks[1].timeout" || !strings.Contains(apiErr.Message, `"soon"`) {
		t.Errorf("bad timeout: %+v, want 400 on tasks[1].timeout naming \"soon\"", apiErr)
	}
	if !strings.HasSuffix(err.Error(), "(HTTP 400)") {
		t.Errorf("error %q does not end with (HTTP 400)", err)
	}

	_, err = c.Get(ctx, "nope")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("get unknown: %v, want a 404 APIError", err)
	}
	if _, err := c.Get(ctx, ""); err == nil || !strings.Contains(err.Error(), "invalid task id") {
		t.Errorf("get with empty id: %v, want an invalid task id error", err)
	}
}

func TestCancelAndRetry(t *testing.T) {
	srv, _ := newMaster(t)
	c := New(srv.URL)
	ctx := context.Background()

	queued, err := c.Submit(ctx, api.TaskRequest{Type: "nobody-runs-this"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Cancel(ctx, queued)
	if err != nil || task.Status != scheduler.StatusCanceled {
		t.Errorf("cancel: %s, %v; want canceled", task.Status, err)
	}
	_, err = c.Cancel(ctx, queued)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
		t.Errorf("second cancel: %v, want a 409 APIError", err)
	}

	failing, err := c.Submit(ctx, api.TaskRequest{Type: "fail"})
	if err != nil {
		t.Fatal(err)
	}
	if task, err = c.Wait(ctx, failing); err != nil || task.Status != scheduler.StatusFailed {
		t.Fatalf("wait for failing task: %s, %v; want failed", task.Status, err)
	}
	task, err = c.Retry(ctx, failing)
	if err != nil || task.Status.Final() {
		t.Errorf("retry: %s, %v; want a task that is not final", task.Status, err)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	srv, _ := newMaster(t)
	c := New(srv.URL)
	id, err := c.Submit(context.Background(), api.TaskRequest{Type: "nobody-runs-this"})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Wait(ctx, id)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait: %v, want context.DeadlineExceeded", err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Errorf("wait ended by the caller's context reported the master unreachable: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("wait returned %v after its context ended, want at once", took)
	}
}

func TestUnreachable(t *testing.T) {
	c := New(closedAddr(t))
	_, err := c.Status(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("status on a closed port: %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not give the cause", err)
	}
}

func TestTimeoutIsUnreachable(t *testing.T) {
	// A listener that accepts connections and never responds.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	c := New(ln.Addr().String(), WithTimeout(100*time.Millisecond))
	_, err = c.Status(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("status on a silent server: %v, want ErrUnreachable", err)
	}
}

func TestInvalidAddress(t *testing.T) {
	for _, addr := range []string{"", "http://", "ftp://host:1", "http://host:1/?x=1", "http://[::1"} {
		_, err := New(addr).Status(context.Background())
		if !errors.Is(err, ErrInvalidAddress) || !strings.Contains(err.Error(), "invalid master address") {
			t.Errorf("New(%q): %v, want an invalid master address error", addr, err)
		}
	}
}

func TestProxyErrorBody(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer proxy.Close()

	_, err := New(proxy.URL).Status(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || apiErr.Message != "502 Bad Gateway: upstream down" {
		t.Errorf("error %v, want APIError 502 with message \"502 Bad Gateway: upstream down\"", err)
	}
}

// startingTransport starts a master on its address after the first request
// to it failed, like a master that comes back during a client's retries.
type startingTransport struct {
	calls atomic.Int32
	start func()
}

func (tr *startingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if tr.calls.Add(1) == 1 && err != nil {
		tr.start()
	}
	return resp, err
}

func TestKeyedSubmitRetries(t *testing.T) {
	master, sched := newMaster(t)
	addr := closedAddr(t)
	tr := &startingTransport{start: func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		srv := &http.Server{Handler: master.Config.Handler}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}}
	c := New(addr, WithHTTPClient(&http.Client{Transport: tr}))
	c.backoff = 10 * time.Millisecond

	id, err := c.Submit(context.Background(), api.TaskRequest{Type: "echo", Key: "k-1"})
	if err != nil {
		t.Fatalf("keyed submit: %v, want success after a retry", err)
	}
	if n := tr.calls.Load(); n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
	if task, err := sched.Get(id); err != nil || task.Key != "k-1" {
		t.Errorf("task %s: %+v, %v; want it stored with key k-1", id, task, err)
	}
}

func TestUnkeyedSubmitDoesNotRetry(t *testing.T) {
	tr := &startingTransport{start: func() {}}
	c := New(closedAddr(t), WithHTTPClient(&http.Client{Transport: tr}))
	c.backoff = time.Millisecond

	_, err := c.Submit(context.Background(), api.TaskRequest{Type: "echo"})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("submit: %v, want ErrUnreachable", err)
	}
	if n := tr.calls.Load(); n != 1 {
		t.Errorf("%d requests sent without a key, want 1", n)
	}

	_, err = c.Submit(context.Background(), api.TaskRequest{Type: "echo", Key: "k"})
	if n := tr.calls.Load(); n != 1+1+submitRetries {
		t.Errorf("%d requests sent in all, want %d: 1 without a key, then 1 + %d retries", n, 2+submitRetries, submitRetries)
	}
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("keyed submit to a closed port: %v, want ErrUnreachable", err)
	}
}
