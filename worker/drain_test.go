package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

func TestDrainFinishesShortAndHandsBackLong(t *testing.T) {
	const drainTimeout = 500 * time.Millisecond
	w, m, c := connectWorker(t, Config{Slots: 2, Handlers: handlersFor(nil), DrainTimeout: drainTimeout})

	c.assign(t, "short", "sleep", "150ms", 0)
	c.assign(t, "long", "sleep", "30s", 0)
	waitUntil(t, "both attempts running", func() bool { return w.Stats().Running == 2 })

	start := time.Now()
	drained := make(chan error, 1)
	go func() { drained <- w.Drain(context.Background()) }()

	var msg wire.Drain
	c.frame(t, wire.TypeDrain, &msg)
	if msg.Reason == "" {
		t.Error("drain frame has an empty reason")
	}
	c.assign(t, "late", "echo", "x", 0)
	if res := c.result(t, "late"); !res.HandedBack || !strings.Contains(res.Error, "draining") {
		t.Errorf("assign during drain: handed_back=%v error=%q, want handed back as draining", res.HandedBack, res.Error)
	}

	if res := c.result(t, "short"); !res.OK || res.HandedBack {
		t.Errorf("short attempt ok=%v handed_back=%v error=%q, want it to finish ok", res.OK, res.HandedBack, res.Error)
	}
	res := c.result(t, "long")
	if !res.HandedBack || res.OK {
		t.Errorf("long attempt ok=%v handed_back=%v error=%q, want it handed back", res.OK, res.HandedBack, res.Error)
	}

	select {
	case err := <-drained:
		if err != nil {
			t.Errorf("Drain returned %v, want nil", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Drain did not return within %s", waitLimit)
	}
	if took := time.Since(start); took > drainTimeout+time.Second {
		t.Errorf("Drain took %s, want at most the drain timeout %s plus 1s", took, drainTimeout)
	}
	if running := w.Stats().Running; running != 0 {
		t.Errorf("stats running = %d after Drain, want 0", running)
	}

	// A reconnect after the drain still has Hello.Draining set.
	c.conn.Close()
	if c2 := m.accept(t); !c2.hello.Draining {
		t.Error("hello after drain has draining = false, want true")
	}
}

func TestDrainWithoutConnection(t *testing.T) {
	w, err := New(Config{Node: "n", Slots: 1, Handlers: handlersFor(nil), DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// An idle worker has nothing to deliver, even without a master.
	if err := w.Drain(context.Background()); err != nil {
		t.Errorf("Drain of an idle, unconnected worker returned %v, want nil", err)
	}

	w.mu.Lock()
	w.deliverLocked(wire.Result{TaskID: "kept", Attempt: 1, OK: true})
	w.mu.Unlock()
	start := time.Now()
	err = w.Drain(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 results not delivered") {
		t.Errorf("Drain with an undeliverable result returned %v, want an error counting 1 result", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Drain took %s without a connection, want about the 100ms drain timeout", took)
	}
}
