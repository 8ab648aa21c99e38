package membership

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func key(fill byte) []byte { return bytes.Repeat([]byte{fill}, 32) }

// startKeyed starts a node with keys whose logs go to logs, without joining.
func startKeyed(t *testing.T, name string, keys [][]byte, logs *lockedBuffer, join ...string) *Membership {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	m, err := Start(Config{
		Node: name, Bind: "127.0.0.1:0", Join: join, Keys: keys, Logger: logger,
		Meta:           wire.Meta{Role: wire.RoleWorker, Slots: 1},
		RejoinInterval: time.Hour, Tune: fastTimers,
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

func waitLog(t *testing.T, logs *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q within 5s; log:\n%s", want, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEncryptedNodesJoin(t *testing.T) {
	seed := startKeyed(t, "seed", [][]byte{key(1)}, nil)
	node := startKeyed(t, "node", [][]byte{key(1)}, nil, seed.LocalAddr())
	if n, err := node.JoinSeeds(); n != 1 || err != nil {
		t.Fatalf("JoinSeeds = %d, %v; want 1, nil", n, err)
	}
	if got := seed.NumMembers(); got != 2 {
		t.Errorf("seed sees %d members, want 2", got)
	}
	if !seed.Encrypted() || !bytes.Equal(seed.PrimaryKey(), key(1)) {
		t.Errorf("seed primary key is not the configured key")
	}
}

func TestKeyMismatchCannotJoin(t *testing.T) {
	seedLogs := &lockedBuffer{}
	seed := startKeyed(t, "seed", [][]byte{key(1)}, seedLogs)

	tests := []struct {
		name string
		keys [][]byte
	}{
		{"wrong key", [][]byte{key(2)}},
		{"no key", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := startKeyed(t, "intruder", tt.keys, nil, seed.LocalAddr())
			n, err := node.JoinSeeds()
			if n != 0 || err == nil {
				t.Fatalf("JoinSeeds = %d, %v; want 0 and an error", n, err)
			}
			if !strings.Contains(err.Error(), "gossip key") {
				t.Errorf("join error does not name the gossip key: %v", err)
			}
			if got := seed.NumMembers(); got != 1 {
				t.Errorf("seed sees %d members after the intruder's join, want 1", got)
			}
		})
	}
	waitLog(t, seedLogs, "gossip key mismatch")
}

func TestSetKeysRotates(t *testing.T) {
	old, next := key(1), key(2)
	a := startKeyed(t, "a", [][]byte{old}, nil)
	b := startKeyed(t, "b", [][]byte{old}, nil, a.LocalAddr())
	if _, err := b.JoinSeeds(); err != nil {
		t.Fatalf("join with the old key: %v", err)
	}

	// The three steps of a rotation, applied to both nodes in turn.
	steps := [][][]byte{{old, next}, {next, old}, {next}}
	for i, keys := range steps {
		for _, m := range []*Membership{a, b} {
			if err := m.SetKeys(keys); err != nil {
				t.Fatalf("step %d: SetKeys: %v", i+1, err)
			}
		}
		if got := a.Keys(); len(got) != len(keys) || !bytes.Equal(a.PrimaryKey(), keys[0]) {
			t.Errorf("step %d: keyring has %d keys, want %d, primary as listed first", i+1, len(got), len(keys))
		}
	}

	// A third node with only the new key joins the rotated pair.
	c := startKeyed(t, "c", [][]byte{next}, nil, a.LocalAddr())
	if n, err := c.JoinSeeds(); n != 1 || err != nil {
		t.Fatalf("join with the new key: %d, %v", n, err)
	}
	// A node with only the old key no longer can.
	d := startKeyed(t, "d", [][]byte{old}, nil, a.LocalAddr())
	if _, err := d.JoinSeeds(); err == nil {
		t.Error("a node with the removed key joined")
	}
}

func TestSetKeysCannotToggleEncryption(t *testing.T) {
	plain := startKeyed(t, "plain", nil, nil)
	if err := plain.SetKeys([][]byte{key(1)}); err == nil {
		t.Error("SetKeys turned encryption on without a restart")
	}
	keyed := startKeyed(t, "keyed", [][]byte{key(1)}, nil)
	if err := keyed.SetKeys(nil); err == nil {
		t.Error("SetKeys turned encryption off without a restart")
	}
}

func TestMaxMembersIgnoresExtraNodes(t *testing.T) {
	logs := &lockedBuffer{}
	seed, err := Start(Config{
		Node: "seed", Bind: "127.0.0.1:0", MaxMembers: 2,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
		Meta:           wire.Meta{Role: wire.RoleMaster},
		RejoinInterval: time.Hour, Tune: fastTimers,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seed.Shutdown() })

	first := startKeyed(t, "first", nil, nil, seed.LocalAddr())
	if _, err := first.JoinSeeds(); err != nil {
		t.Fatalf("first join: %v", err)
	}
	second := startKeyed(t, "second", nil, nil, seed.LocalAddr())
	second.JoinSeeds()

	waitLog(t, logs, "max_members = 2")
	if got := seed.NumMembers(); got != 2 {
		t.Errorf("seed tracks %d members with max_members 2, want 2", got)
	}
	if _, ok := seed.Member("second"); ok {
		t.Error("seed tracks the node over the limit")
	}

	// A member that leaves makes room for another.
	first.Leave(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		second.JoinSeeds()
		if _, ok := seed.Member("second"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second node not tracked within 5s after the first left")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
