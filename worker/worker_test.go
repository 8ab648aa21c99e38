package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

func TestHandshakeHelloFields(t *testing.T) {
	m := newTestMaster(t)
	w := startWorker(t, m, Config{
		Node:     "node-a",
		Version:  "9.9.9",
		Slots:    3,
		Handlers: handlersFor(map[string]Handler{"convert": Echo()}),
	})

	c := m.accept(t)
	if c.hello.Node != "node-a" {
		t.Errorf("hello node = %q, want %q", c.hello.Node, "node-a")
	}
	if c.hello.Version != "9.9.9" {
		t.Errorf("hello version = %q, want %q", c.hello.Version, "9.9.9")
	}
	if c.hello.Slots != 3 {
		t.Errorf("hello slots = %d, want 3", c.hello.Slots)
	}
	if want := []string{"convert", "echo", "sleep"}; !slices.Equal(c.hello.Types, want) {
		t.Errorf("hello types = %q, want %q (sorted)", c.hello.Types, want)
	}
	if len(c.hello.Running) != 0 {
		t.Errorf("hello running = %v, want none on a fresh worker", c.hello.Running)
	}
	if c.hello.Draining {
		t.Error("hello draining = true, want false on a fresh worker")
	}
	if w.Stats().Connected {
		t.Error("stats connected = true before the welcome, want false")
	}

	c.welcome(t, welcomeOptions{})
	waitUntil(t, "stats say connected", func() bool { return w.Stats().Connected })
	stats := w.Stats()
	if stats.Master != m.addr() {
		t.Errorf("stats master = %q, want %q", stats.Master, m.addr())
	}
	if stats.Slots != 3 {
		t.Errorf("stats slots = %d, want 3", stats.Slots)
	}
}

func TestAssignEchoAndSleep(t *testing.T) {
	info := HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		ti, ok := TaskFromContext(ctx)
		if !ok {
			return nil, errors.New("no task info in ctx")
		}
		return fmt.Appendf(nil, "%s/%d/%s", ti.ID, ti.Attempt, ti.Type), nil
	})
	w, _, c := connectWorker(t, Config{Slots: 4, Handlers: handlersFor(map[string]Handler{"info": info})})

	c.assign(t, "echo-1", "echo", "hello", 0)
	res := c.result(t, "echo-1")
	if !res.OK || string(res.Output) != "hello" {
		t.Errorf("echo result ok=%v output=%q error=%q, want ok output %q", res.OK, res.Output, res.Error, "hello")
	}
	if res.Duration <= 0 {
		t.Errorf("echo result duration = %d, want > 0", res.Duration)
	}

	c.assign(t, "sleep-1", "sleep", "60ms", time.Second)
	res = c.result(t, "sleep-1")
	if !res.OK || string(res.Output) != "slept 60ms" {
		t.Errorf("sleep result ok=%v output=%q error=%q, want output %q", res.OK, res.Output, res.Error, "slept 60ms")
	}
	if d := time.Duration(res.Duration); d < 60*time.Millisecond {
		t.Errorf("sleep result duration = %s, want at least 60ms", d)
	}

	c.assign(t, "info-1", "info", "", 0)
	if res = c.result(t, "info-1"); string(res.Output) != "info-1/1/info" {
		t.Errorf("task info output = %q (error %q), want %q", res.Output, res.Error, "info-1/1/info")
	}

	c.assign(t, "sleep-bad", "sleep", "soon", 0)
	res = c.result(t, "sleep-bad")
	if res.OK || !strings.Contains(res.Error, `"soon"`) {
		t.Errorf("bad sleep payload: ok=%v error=%q, want a failure naming \"soon\"", res.OK, res.Error)
	}

	stats := w.Stats()
	if stats.Completed != 3 || stats.Failed != 1 {
		t.Errorf("stats completed=%d failed=%d, want 3 and 1", stats.Completed, stats.Failed)
	}
}

func TestAssignTimeout(t *testing.T) {
	_, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})

	start := time.Now()
	c.assign(t, "slow", "sleep", "10s", 100*time.Millisecond)
	res := c.result(t, "slow")
	if res.OK || res.Error != "timed out after 100ms" {
		t.Errorf("result ok=%v error=%q, want error %q", res.OK, res.Error, "timed out after 100ms")
	}
	if res.HandedBack {
		t.Error("timed-out result is handed back, want a failed attempt")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("timeout result took %s, want well under 2s", took)
	}
}

func TestAssignHandedBack(t *testing.T) {
	_, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})

	c.assign(t, "nobody", "resize", "", 0)
	res := c.result(t, "nobody")
	if !res.HandedBack || res.OK || !strings.Contains(res.Error, `no handler for task type "resize"`) {
		t.Errorf("unknown type: handed_back=%v ok=%v error=%q, want handed back naming the type",
			res.HandedBack, res.OK, res.Error)
	}

	c.assign(t, "long", "sleep", "10s", 0)
	c.assign(t, "extra", "echo", "x", 0)
	res = c.result(t, "extra")
	if !res.HandedBack || res.Error != "all 1 slots are busy" {
		t.Errorf("busy: handed_back=%v error=%q, want handed back with %q", res.HandedBack, res.Error, "all 1 slots are busy")
	}
}

func TestPopulationRespected(t *testing.T) {
	const slots, tasks = 2, 8
	var current, peak atomic.Int32
	tracked := HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		n := current.Add(1)
		defer current.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-time.After(50 * time.Millisecond):
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	_, _, c := connectWorker(t, Config{Slots: slots, Handlers: map[string]Handler{"work": tracked}})

	// Three at once: the third finds both slots busy.
	for i := range slots + 1 {
		c.assign(t, fmt.Sprintf("t%d", i), "work", "", 0)
	}
	sent, done, handedBack := slots+1, 0, 0
	deadline := time.After(waitLimit)
	for done < tasks {
		select {
		case res := <-c.results:
			if res.HandedBack {
				handedBack++
			} else if !res.OK {
				t.Fatalf("task %s failed: %s", res.TaskID, res.Error)
			} else {
				done++
			}
			if sent < tasks+handedBack {
				c.assign(t, fmt.Sprintf("t%d", sent), "work", "", 0)
				sent++
			}
		case <-deadline:
			t.Fatalf("only %d of %d tasks done within %s", done, tasks, waitLimit)
		}
	}

	if handedBack < 1 {
		t.Errorf("handed back %d assignments, want at least 1 (the third of three sent at once)", handedBack)
	}
	if got := peak.Load(); got != slots {
		t.Errorf("peak concurrency = %d, want exactly %d slots", got, slots)
	}
}

func TestCancelStopsAttempt(t *testing.T) {
	w, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})

	c.send(t, wire.TypeCancel, &wire.Cancel{TaskID: "unknown", Attempt: 1})
	c.assign(t, "long", "sleep", "30s", 0)
	waitUntil(t, "attempt running", func() bool { return w.Stats().Running == 1 })

	start := time.Now()
	c.send(t, wire.TypeCancel, &wire.Cancel{TaskID: "long", Attempt: 1})
	res := c.result(t, "long")
	if res.OK || res.HandedBack || res.Error != "canceled" {
		t.Errorf("canceled result ok=%v handed_back=%v error=%q, want error %q", res.OK, res.HandedBack, res.Error, "canceled")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancel took %s to answer, want well under 1s", took)
	}
	waitUntil(t, "slot free after cancel", func() bool { return w.Stats().Running == 0 })
}

func TestHandlerPanicContained(t *testing.T) {
	boom := HandlerFunc(func(context.Context, []byte) ([]byte, error) { panic("boom in handler") })
	w, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(map[string]Handler{"boom": boom})})

	c.assign(t, "p1", "boom", "", 0)
	res := c.result(t, "p1")
	if res.OK || !strings.Contains(res.Error, "boom in handler") {
		t.Errorf("panic result ok=%v error=%q, want a failure carrying the panic value", res.OK, res.Error)
	}

	c.assign(t, "after", "echo", "still here", 0)
	if res = c.result(t, "after"); string(res.Output) != "still here" {
		t.Errorf("echo after panic output = %q (error %q), want %q", res.Output, res.Error, "still here")
	}
	if stats := w.Stats(); stats.Failed != 1 || stats.Running != 0 {
		t.Errorf("stats failed=%d running=%d, want 1 and 0", stats.Failed, stats.Running)
	}
}

func TestOutputCapForGoHandler(t *testing.T) {
	_, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil), MaxOutputBytes: 10})

	c.assign(t, "fits", "echo", "0123456789", 0)
	if res := c.result(t, "fits"); !res.OK {
		t.Errorf("10-byte output failed with %q, want ok at a 10-byte cap", res.Error)
	}
	c.assign(t, "big", "echo", "0123456789X", 0)
	res := c.result(t, "big")
	if res.OK || !strings.HasPrefix(res.Error, "output exceeds max_output_bytes (10 bytes)") {
		t.Errorf("11-byte output: ok=%v error=%q, want a failure naming the 10-byte cap", res.OK, res.Error)
	}
	if len(res.Output) != 0 {
		t.Errorf("failed result carries %d output bytes, want none", len(res.Output))
	}
}

func TestMasterDrainRequest(t *testing.T) {
	w, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})

	select {
	case <-w.DrainRequested():
		t.Fatal("DrainRequested closed before the master asked")
	default:
	}
	c.send(t, wire.TypeDrain, &wire.Drain{Reason: "operator"})
	c.send(t, wire.TypeDrain, &wire.Drain{Reason: "operator again"})
	select {
	case <-w.DrainRequested():
	case <-time.After(waitLimit):
		t.Fatalf("DrainRequested not closed within %s of the master's drain", waitLimit)
	}

	// A second drain from the master must not break the connection.
	c.assign(t, "after-drain-request", "echo", "ok", 0)
	if res := c.result(t, "after-drain-request"); !res.OK {
		t.Errorf("echo after drain request failed: %q", res.Error)
	}
}

func TestUpdateSendsSlots(t *testing.T) {
	w, _, c := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})

	if err := w.Update(0, handlersFor(nil)); err == nil || !strings.Contains(err.Error(), "invalid population 0") {
		t.Errorf("Update(0) error = %v, want invalid population 0", err)
	}
	if err := w.Update(2, nil); err == nil || !strings.Contains(err.Error(), "no handlers") {
		t.Errorf("Update without handlers error = %v, want no handlers", err)
	}

	if err := w.Update(5, map[string]Handler{"echo": Echo(), "upper": Echo()}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	var msg wire.Slots
	c.frame(t, wire.TypeSlots, &msg)
	if msg.Slots != 5 || !slices.Equal(msg.Types, []string{"echo", "upper"}) {
		t.Errorf("slots frame = %d %q, want 5 [echo upper]", msg.Slots, msg.Types)
	}
	if got := w.Stats().Slots; got != 5 {
		t.Errorf("stats slots = %d after update, want 5", got)
	}

	c.assign(t, "gone", "sleep", "1ms", 0)
	if res := c.result(t, "gone"); !res.HandedBack {
		t.Errorf("assign of a removed type: handed_back=%v error=%q, want handed back", res.HandedBack, res.Error)
	}
}

func TestRunReturnsWhenContextEnds(t *testing.T) {
	m := newTestMaster(t)
	stopped := make(chan error, 1)
	blocking := HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	w, err := New(Config{Node: "n", Slots: 1, Handlers: map[string]Handler{"block": blocking}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, m.addr) }()

	c := m.accept(t)
	c.welcome(t, welcomeOptions{})
	c.assign(t, "b", "block", "", 0)
	waitUntil(t, "attempt running", func() bool { return w.Stats().Running == 1 })

	if err := w.Run(ctx, m.addr); err == nil {
		t.Error("second concurrent Run returned nil, want an error")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Run did not return within %s of cancel", waitLimit)
	}
	select {
	case cause := <-stopped:
		if !errors.Is(cause, errHandedBack) {
			t.Errorf("handler ctx cause = %v, want %v", cause, errHandedBack)
		}
	default:
		t.Error("Run returned while the handler still ran")
	}
	select {
	case <-c.closed:
	case <-time.After(waitLimit):
		t.Error("connection still open after Run returned")
	}
	if err := w.Run(context.Background(), nil); err == nil {
		t.Error("Run with a nil masterAddr returned nil, want an error")
	}
}

func TestStuckHandlerAnsweredWithoutIt(t *testing.T) {
	t.Parallel() // waits out a multi-second grace
	release := make(chan struct{})
	stuck := HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		<-release // ignores its ctx
		return []byte("too late"), nil
	})
	w, _, c := connectWorker(t, Config{Slots: 1, Handlers: map[string]Handler{"stuck": stuck}})
	defer close(release)

	start := time.Now()
	c.assign(t, "s1", "stuck", "", 100*time.Millisecond)
	deadline := time.After(stuckGrace + waitLimit)
	var res wire.Result
	select {
	case res = <-c.results:
	case <-deadline:
		t.Fatalf("no result within %s for a handler that ignores its ctx", stuckGrace+waitLimit)
	}
	if res.TaskID != "s1" || res.OK || res.Error != "timed out after 100ms" {
		t.Errorf("result %s ok=%v error=%q, want s1 failed with %q", res.TaskID, res.OK, res.Error, "timed out after 100ms")
	}
	if took := time.Since(start); took < stuckGrace {
		t.Errorf("answered after %s, want to wait the %s grace for the handler first", took, stuckGrace)
	}
	if running := w.Stats().Running; running != 1 {
		t.Errorf("stats running = %d while the stuck handler runs, want 1 (its slot stays busy)", running)
	}

	c.assign(t, "s2", "stuck", "", 0)
	if res := c.result(t, "s2"); !res.HandedBack {
		t.Errorf("assign while the stuck handler holds the only slot: handed_back=%v error=%q, want handed back",
			res.HandedBack, res.Error)
	}
}

func TestHandlerContextCarriesTimeout(t *testing.T) {
	deadlines := make(chan time.Time, 2)
	record := HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		d, ok := ctx.Deadline()
		if !ok {
			d = time.Time{}
		}
		deadlines <- d
		return nil, nil
	})
	_, _, c := connectWorker(t, Config{Slots: 1, Handlers: map[string]Handler{"rec": record}})

	before := time.Now()
	c.assign(t, "d1", "rec", "", 5*time.Second)
	if res := c.result(t, "d1"); !res.OK {
		t.Fatalf("d1 failed: %q", res.Error)
	}
	d := <-deadlines
	if d.Before(before.Add(5*time.Second)) || d.After(time.Now().Add(5*time.Second)) {
		t.Errorf("ctx deadline %s, want 5s after the assign at %s", d, before)
	}

	c.assign(t, "d2", "rec", "", 0)
	if res := c.result(t, "d2"); !res.OK {
		t.Fatalf("d2 failed: %q", res.Error)
	}
	if d := <-deadlines; !d.IsZero() {
		t.Errorf("ctx deadline %s for a task without timeout, want none", d)
	}
}
