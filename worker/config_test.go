package worker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

func TestNewValidatesConfig(t *testing.T) {
	valid := func() Config {
		return Config{Node: "n", Slots: 1, Handlers: map[string]Handler{"echo": Echo()}}
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"missing node", func(c *Config) { c.Node = "" }, "missing node name"},
		{"zero slots", func(c *Config) { c.Slots = 0 }, "invalid population 0: must be at least 1"},
		{"no handlers", func(c *Config) { c.Handlers = nil }, "no handlers"},
		{"nil handler", func(c *Config) { c.Handlers["bad"] = nil }, `handler for task type "bad" is nil`},
		{"empty type", func(c *Config) { c.Handlers[""] = Echo() }, `invalid task type ""`},
		{"small frame", func(c *Config) { c.MaxFrameBytes = 1000 }, "invalid max_frame_bytes 1000"},
		{"negative output", func(c *Config) { c.MaxOutputBytes = -1 }, "invalid max_output_bytes -1"},
		{"output over frame", func(c *Config) { c.MaxOutputBytes = wire.DefaultMaxFrame }, "set it to at most"},
		{"negative drain", func(c *Config) { c.DrainTimeout = -time.Second }, "invalid drain_timeout -1s"},
		{"negative dial", func(c *Config) { c.DialTimeout = -time.Second }, "invalid dial_timeout -1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatalf("New returned no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}

	t.Run("every problem reported", func(t *testing.T) {
		_, err := New(Config{})
		for _, want := range []string{"missing node name", "invalid population 0", "no handlers"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error = %v, want it to contain %q", err, want)
			}
		}
	})

	t.Run("defaults", func(t *testing.T) {
		w, err := New(valid())
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if w.cfg.MaxFrameBytes != wire.DefaultMaxFrame {
			t.Errorf("max frame = %d, want %d", w.cfg.MaxFrameBytes, wire.DefaultMaxFrame)
		}
		if want := int64(wire.DefaultMaxFrame - resultOverhead); w.cfg.MaxOutputBytes != want {
			t.Errorf("max output = %d, want %d", w.cfg.MaxOutputBytes, want)
		}
		if w.cfg.DrainTimeout != defaultDrainTimeout || w.cfg.DialTimeout != defaultDialTimeout {
			t.Errorf("drain timeout %s, dial timeout %s, want %s and %s",
				w.cfg.DrainTimeout, w.cfg.DialTimeout, defaultDrainTimeout, defaultDialTimeout)
		}
	})

	t.Run("handlers copied", func(t *testing.T) {
		cfg := valid()
		w, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		cfg.Handlers["later"] = Echo()
		if _, ok := w.handlers["later"]; ok {
			t.Error("a handler added to the caller's map after New reached the worker")
		}
	})
}

func TestSleepHandler(t *testing.T) {
	cases := []struct {
		payload string
		want    string // output, or error substring when wantErr
		wantErr bool
	}{
		{"20ms", "slept 20ms", false},
		{" 1ms\n", "slept 1ms", false},
		{"0s", "slept 0s", false},
		{"-1s", `invalid sleep payload "-1s": the duration must not be negative`, true},
		{"", `invalid sleep payload ""`, true},
		{strings.Repeat("x", 100), "(100 bytes)", true},
	}
	for _, tc := range cases {
		out, err := Sleep().Handle(context.Background(), []byte(tc.payload))
		switch {
		case tc.wantErr && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Sleep(%q) error = %v, want it to contain %q", tc.payload, err, tc.want)
		case !tc.wantErr && (err != nil || string(out) != tc.want):
			t.Errorf("Sleep(%q) = %q, %v, want %q", tc.payload, out, err, tc.want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sleep().Handle(ctx, []byte("1h")); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("Sleep with a done ctx error = %v, want it interrupted", err)
	}
}

func TestTaskFromContextOutsideWorker(t *testing.T) {
	if info, ok := TaskFromContext(context.Background()); ok {
		t.Errorf("TaskFromContext(background) = %+v, true, want false", info)
	}
}

func TestBackoffDoublesWithJitter(t *testing.T) {
	var b backoff
	ceilings := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, ceiling := range ceilings {
		ceiling *= time.Millisecond
		d := b.next()
		if d < ceiling/2 || d > ceiling {
			t.Errorf("wait %d = %s, want between %s and %s", i+1, d, ceiling/2, ceiling)
		}
	}
	b.reset()
	if d := b.next(); d > backoffMin {
		t.Errorf("wait after reset = %s, want at most %s", d, backoffMin)
	}
}

func TestTailBufferKeepsEnd(t *testing.T) {
	tail := &tailBuffer{max: 8}
	for _, chunk := range []string{"abc", "defgh", "ij", "klmnopqrstuvwxyz", "0", "12"} {
		if n, err := tail.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v, want %d, nil", chunk, n, err, len(chunk))
		}
	}
	if got := tail.String(); got != "vwxyz012" {
		t.Errorf("tail = %q, want %q", got, "vwxyz012")
	}

	cut := &tailBuffer{max: 4}
	cut.Write([]byte("xé✓")) // the 4-byte tail starts inside "é"
	if got := cut.String(); got != "✓" {
		t.Errorf("tail with a cut character = %q, want %q", got, "✓")
	}
}

func TestOutboxDropsOldestPastLimit(t *testing.T) {
	logger, logs := testLogger(t)
	w, err := New(Config{Node: "n", Slots: 1, Handlers: handlersFor(nil), Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w.mu.Lock()
	for i := range maxPendingResults + 2 {
		w.deliverLocked(wire.Result{TaskID: fmt.Sprintf("t%d", i), Attempt: 1})
	}
	unsent := w.outbox.unsent
	w.mu.Unlock()

	if len(unsent) != maxPendingResults {
		t.Fatalf("kept %d results, want the limit %d", len(unsent), maxPendingResults)
	}
	if unsent[0].TaskID != "t2" {
		t.Errorf("oldest kept result is %s, want t2 (t0 and t1 dropped)", unsent[0].TaskID)
	}
	if n := strings.Count(logs(), "dropping an undelivered result"); n != 2 {
		t.Errorf("logged %d dropped results, want 2", n)
	}
}

func TestHelloFitsInOneFrame(t *testing.T) {
	const frame = minFrameBytes
	w, err := New(Config{Node: "n", Slots: 1, Handlers: handlersFor(nil), MaxFrameBytes: frame})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	id := strings.Repeat("x", 100)
	w.mu.Lock()
	for i := range 3000 {
		w.deliverLocked(wire.Result{TaskID: fmt.Sprintf("%s-%d", id, i), Attempt: 1})
	}
	hello := w.helloLocked()
	w.mu.Unlock()

	body, err := wire.Marshal(&hello)
	if err != nil {
		t.Fatalf("marshal hello: %v", err)
	}
	if len(body)+1 > frame {
		t.Errorf("hello frame is %d bytes, want at most %d", len(body)+1, frame)
	}
	if len(hello.Running) == 0 || len(hello.Running) >= 3000 {
		t.Errorf("hello lists %d of 3000 results, want some but not all", len(hello.Running))
	}
	if newest := fmt.Sprintf("%s-%d", id, 2999); hello.Running[0].TaskID != newest {
		t.Errorf("first listed result is %.20s..., want the newest", hello.Running[0].TaskID)
	}
}
