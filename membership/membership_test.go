package membership

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lbd-dev/lbd/wire"
)

func fastTimers(c *memberlist.Config) {
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = time.Second
	c.SuspicionMult = 2
	c.DeadNodeReclaimTime = 100 * time.Millisecond
}

func startNode(t *testing.T, name string, meta wire.Meta, join ...string) *Membership {
	t.Helper()
	m, err := Start(Config{
		Node: name, Bind: "127.0.0.1:0", Join: join, Meta: meta,
		RejoinInterval: 200 * time.Millisecond, Tune: fastTimers,
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { m.Shutdown() })
	if err := m.WaitJoined(10 * time.Second); err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	return m
}

func nextEvent(t *testing.T, m *Membership, kind EventKind, name string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-m.Events():
			if ev.Kind == kind && ev.Member.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for %s within 10s", kind, name)
		}
	}
}

func TestJoinCarriesMetadata(t *testing.T) {
	master := startNode(t, "m", wire.Meta{Role: wire.RoleMaster, TaskAddr: "0.0.0.0:7947", Version: "v1"})
	startNode(t, "w1", wire.Meta{Role: wire.RoleWorker, Slots: 8, Types: []string{"echo", "sleep"}}, master.LocalAddr())

	ev := nextEvent(t, master, EventJoin, "w1")
	if ev.Member.Meta.Role != wire.RoleWorker || ev.Member.Meta.Slots != 8 || len(ev.Member.Meta.Types) != 2 {
		t.Errorf("join event meta = %+v, want worker with 8 slots and 2 types", ev.Member.Meta)
	}
	if ev.Member.Foreign {
		t.Error("lbd worker reported as foreign")
	}
}

func TestMasterTaskAddrReplacesUnspecifiedHost(t *testing.T) {
	master := startNode(t, "m", wire.Meta{Role: wire.RoleMaster, TaskAddr: "0.0.0.0:7947"})
	w := startNode(t, "w1", wire.Meta{Role: wire.RoleWorker, Slots: 1}, master.LocalAddr())

	if got, want := w.MasterTaskAddr(), "127.0.0.1:7947"; got != want {
		t.Errorf("MasterTaskAddr = %q, want %q (the master's gossip IP with the task port)", got, want)
	}
}

func TestFailureEvent(t *testing.T) {
	master := startNode(t, "m", wire.Meta{Role: wire.RoleMaster, TaskAddr: "127.0.0.1:1"})
	w := startNode(t, "w1", wire.Meta{Role: wire.RoleWorker, Slots: 1}, master.LocalAddr())
	nextEvent(t, master, EventJoin, "w1")

	w.Shutdown() // no leave message: the others must detect the failure
	start := time.Now()
	nextEvent(t, master, EventLeave, "w1")
	t.Logf("failure detected after %s with test timers", time.Since(start))
}

func TestForeignNodeIgnored(t *testing.T) {
	master := startNode(t, "m", wire.Meta{Role: wire.RoleMaster, TaskAddr: "127.0.0.1:1"})

	// A plain memberlist node with foreign metadata joins the same port.
	mc := memberlist.DefaultLANConfig()
	mc.Name = "stranger"
	mc.BindAddr = "127.0.0.1"
	mc.BindPort = 0
	mc.Delegate = &metaDelegate{meta: []byte(`{"role":"worker"}`)}
	mc.LogOutput = ioDiscard{}
	fastTimers(mc)
	stranger, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Shutdown()
	if _, err := stranger.Join([]string{master.LocalAddr()}); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for master.NumMembers() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := master.Member("stranger"); ok {
		t.Error("Member returned the foreign node as an lbd member")
	}
	for _, m := range master.Members() {
		if m.Name == "stranger" && !m.Foreign {
			t.Error("Members lists the foreign node as lbd")
		}
	}
	select {
	case ev := <-master.Events():
		if ev.Member.Name == "stranger" {
			t.Errorf("event for foreign node: %+v", ev)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

func TestDuplicateLiveNameRejected(t *testing.T) {
	master := startNode(t, "m", wire.Meta{Role: wire.RoleMaster, TaskAddr: "127.0.0.1:1"})
	startNode(t, "w1", wire.Meta{Role: wire.RoleWorker, Slots: 1}, master.LocalAddr())

	dup, err := Start(Config{Node: "w1", Bind: "127.0.0.1:0", Join: []string{master.LocalAddr()},
		Meta: wire.Meta{Role: wire.RoleWorker, Slots: 1}, Tune: fastTimers})
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Shutdown()
	err = dup.WaitJoined(10 * time.Second)
	if !errors.Is(err, ErrNameConflict) {
		t.Fatalf("WaitJoined err = %v, want ErrNameConflict", err)
	}
	if !strings.Contains(err.Error(), "-node") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

func TestRestartedNodeAtNewAddressRejoins(t *testing.T) {
	master := startNode(t, "m", wire.Meta{Role: wire.RoleMaster, TaskAddr: "127.0.0.1:1"})
	old := startNode(t, "w1", wire.Meta{Role: wire.RoleWorker, Slots: 1}, master.LocalAddr())
	nextEvent(t, master, EventJoin, "w1")
	oldAddr := old.LocalAddr()
	old.Shutdown()

	start := time.Now()
	fresh := startNode(t, "w1", wire.Meta{Role: wire.RoleWorker, Slots: 2}, master.LocalAddr())
	if fresh.LocalAddr() == oldAddr {
		t.Fatalf("restarted node got the same address %s; the test needs a new one", oldAddr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, ok := master.Member("w1")
		if ok && m.Addr == fresh.LocalAddr() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("master still sees w1 at %+v, want %s", m, fresh.LocalAddr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("restarted node is a member again %s after it started", time.Since(start))
}

func TestBindConflictNamesOption(t *testing.T) {
	// Take one port number for both UDP and TCP. Another process may hold
	// the TCP port of a free UDP port, so try a few.
	var tcp net.Listener
	for try := 0; tcp == nil; try++ {
		ln, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		tcp, err = net.Listen("tcp", ln.LocalAddr().String())
		if err != nil && try == 20 {
			t.Fatalf("no port free for both UDP and TCP after 20 tries: %v", err)
		}
	}
	defer tcp.Close()

	_, err := Start(Config{Node: "x", Bind: tcp.Addr().String(), Meta: wire.Meta{Role: wire.RoleWorker}})
	if err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	for _, want := range []string{tcp.Addr().String(), "-bind", "LBD_BIND"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
