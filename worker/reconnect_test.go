package worker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

func refOf(taskID string) wire.AttemptRef {
	return wire.AttemptRef{TaskID: taskID, Attempt: 1}
}

func TestReconnectKeepsRunningAttempt(t *testing.T) {
	w, m, c1 := connectWorker(t, Config{Slots: 2, Handlers: handlersFor(nil)})

	c1.assign(t, "mid", "sleep", "300ms", 0)
	waitUntil(t, "attempt running", func() bool { return w.Stats().Running == 1 })
	c1.conn.Close()

	c2 := m.accept(t)
	if !slices.Contains(c2.hello.Running, refOf("mid")) {
		t.Fatalf("hello after reconnect lists running %v, want it to contain task mid", c2.hello.Running)
	}
	c2.welcome(t, welcomeOptions{})
	res := c2.result(t, "mid")
	if !res.OK || string(res.Output) != "slept 300ms" {
		t.Errorf("result on the new connection ok=%v output=%q error=%q, want %q", res.OK, res.Output, res.Error, "slept 300ms")
	}
}

func TestResultKeptWhileDisconnected(t *testing.T) {
	logger, logs := testLogger(t)
	w, m, c1 := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil), Logger: logger})

	c1.assign(t, "offline", "sleep", "200ms", 0)
	waitUntil(t, "attempt running", func() bool { return w.Stats().Running == 1 })
	c1.conn.Close()

	// Hold the next connection unanswered until the attempt finished, then
	// reject it: the result must survive until a master welcomes the worker.
	c2 := m.accept(t)
	waitUntil(t, "attempt finished while disconnected", func() bool { return w.Stats().Running == 0 })
	c2.reject(t, "master is restarting")

	c3 := m.accept(t)
	if !slices.Contains(c3.hello.Running, refOf("offline")) {
		t.Fatalf("hello after the reject lists %v, want it to contain the undelivered result of task offline",
			c3.hello.Running)
	}
	c3.welcome(t, welcomeOptions{})
	res := c3.result(t, "offline")
	if !res.OK || string(res.Output) != "slept 200ms" {
		t.Errorf("kept result ok=%v output=%q error=%q, want %q", res.OK, res.Output, res.Error, "slept 200ms")
	}
	if !strings.Contains(logs(), "level=ERROR") || !strings.Contains(logs(), "master is restarting") {
		t.Errorf("log has no error line with the reject reason %q:\n%s", "master is restarting", logs())
	}
}

func TestResultResentAfterBreak(t *testing.T) {
	_, m, c1 := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})

	c1.assign(t, "quick", "echo", "data", 0)
	c1.result(t, "quick")
	c1.conn.Close()

	// The connection broke right after the result, so it may have been lost.
	c2 := m.accept(t)
	if !slices.Contains(c2.hello.Running, refOf("quick")) {
		t.Fatalf("hello after the break lists %v, want it to contain the unconfirmed result of task quick",
			c2.hello.Running)
	}
	c2.welcome(t, welcomeOptions{})
	if res := c2.result(t, "quick"); string(res.Output) != "data" {
		t.Errorf("resent result output = %q, want %q", res.Output, "data")
	}
}

func TestWelcomeStaleCancelsAttempt(t *testing.T) {
	causes := make(chan error, 1)
	blocking := HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	w, m, c1 := connectWorker(t, Config{Slots: 2, Handlers: handlersFor(map[string]Handler{"block": blocking})})

	c1.assign(t, "old", "block", "", 0)
	c1.assign(t, "done-before", "echo", "x", 0)
	c1.result(t, "done-before")
	waitUntil(t, "attempt running", func() bool { return w.Stats().Running == 1 })
	c1.conn.Close()

	c2 := m.accept(t)
	for _, id := range []string{"old", "done-before"} {
		if !slices.Contains(c2.hello.Running, refOf(id)) {
			t.Fatalf("hello lists %v, want it to contain task %s", c2.hello.Running, id)
		}
	}
	c2.welcome(t, welcomeOptions{stale: []wire.AttemptRef{refOf("old"), refOf("done-before")}})

	select {
	case cause := <-causes:
		if !errors.Is(cause, errStale) {
			t.Errorf("stale attempt canceled with cause %v, want %v", cause, errStale)
		}
	case <-time.After(waitLimit):
		t.Fatalf("stale attempt not canceled within %s", waitLimit)
	}
	waitUntil(t, "stale attempt returned", func() bool { return w.Stats().Running == 0 })

	c2.assign(t, "fresh", "echo", "y", 0)
	c2.result(t, "fresh")
	for _, res := range c2.resultsSeen() {
		if res.TaskID != "fresh" {
			t.Errorf("result of stale task %s (error %q) was sent, want it dropped", res.TaskID, res.Error)
		}
	}
}

func TestSilentMasterCausesReconnect(t *testing.T) {
	m := newTestMaster(t)
	startWorker(t, m, Config{Slots: 3, Handlers: handlersFor(nil)})

	c1 := m.accept(t)
	welcomed := time.Now()
	c1.welcome(t, welcomeOptions{interval: 50 * time.Millisecond, timeout: 400 * time.Millisecond, silent: true})
	for i := range 2 {
		select {
		case hb := <-c1.heartbeats:
			if hb.Running != 0 {
				t.Errorf("heartbeat running = %d, want 0", hb.Running)
			}
		case <-time.After(waitLimit):
			t.Fatalf("heartbeat %d not received within %s", i+1, waitLimit)
		}
	}

	m.accept(t)
	if waited := time.Since(welcomed); waited < 350*time.Millisecond {
		t.Errorf("worker reconnected %s after the welcome, want it to wait for the 400ms heartbeat timeout", waited)
	}
	select {
	case <-c1.closed:
	case <-time.After(waitLimit):
		t.Error("worker kept the silent connection open")
	}
}

func TestInvalidFramesCauseReconnect(t *testing.T) {
	cases := []struct {
		name string
		typ  wire.Type
		body any
	}{
		{"unknown type", wire.Type(99), &wire.Heartbeat{}},
		{"undecodable assign", wire.TypeAssign, "not an assign"},
		{"welcome after handshake", wire.TypeWelcome, &wire.Welcome{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, m, c1 := connectWorker(t, Config{Slots: 1, Handlers: handlersFor(nil)})
			c1.send(t, tc.typ, tc.body)

			c2 := m.accept(t)
			c2.welcome(t, welcomeOptions{})
			c2.assign(t, "after", "echo", "ok", 0)
			if res := c2.result(t, "after"); !res.OK {
				t.Errorf("echo after reconnect failed: %q", res.Error)
			}
			if !w.Stats().Connected {
				t.Error("worker not connected after reconnect")
			}
		})
	}
}

func TestWaitsForMasterAddress(t *testing.T) {
	m := newTestMaster(t)
	w, err := New(Config{Node: "n", Slots: 1, Handlers: handlersFor(nil)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var known atomicString
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, known.Load) }()

	m.expectNoConn(t, 300*time.Millisecond)
	known.Store(m.addr())
	c := m.accept(t)
	c.welcome(t, welcomeOptions{})
	waitUntil(t, "connected once the address is known", func() bool { return w.Stats().Connected })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}
