package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// netSeq distinguishes the networks of one test process, so that tests in
// parallel get their own names and subnets.
var netSeq atomic.Int32

// Net is a private network of network namespaces: one namespace per test
// host, each with an address on a bridge that lives in a namespace of its
// own (so the host's firewall never filters the traffic), and one address for
// the test process itself. Cut and Heal take a host's link down and up,
// which drops its packets without closing any connection.
type Net struct {
	t      testing.TB
	prefix string // namespace and interface name prefix, unique per test process
	subnet string // first three octets, e.g. "10.213.7"
	sw     string // namespace of the bridge
	hostIf string
	hosts  map[string]int // host name -> index
}

// NewNet creates the bridge namespace and connects the test process to it.
// It skips the test when it cannot run: not root, or no ip command.
func NewNet(t testing.TB) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespaces need the ip command (Debian package iproute2)")
	}
	id := os.Getpid() % 10000
	seq := netSeq.Add(1) % 10
	n := &Net{
		t:      t,
		prefix: fmt.Sprintf("lbdt%d%d", id, seq),
		subnet: fmt.Sprintf("10.%d.%d", 200+seq, id%250),
		hosts:  map[string]int{},
	}
	n.sw = n.prefix + "sw"
	n.hostIf = n.prefix + "h"
	t.Cleanup(n.destroy)

	n.ip("netns", "add", n.sw)
	n.ip("-n", n.sw, "link", "add", "br0", "type", "bridge")
	n.ip("-n", n.sw, "link", "set", "br0", "up")
	n.ip("-n", n.sw, "link", "set", "lo", "up")
	n.ip("link", "add", n.hostIf, "type", "veth", "peer", "name", "ph", "netns", n.sw)
	n.ip("-n", n.sw, "link", "set", "ph", "master", "br0", "up")
	n.ip("addr", "add", n.subnet+".254/24", "dev", n.hostIf)
	n.ip("link", "set", n.hostIf, "up")
	return n
}

// AddHost creates a namespace for a test host and returns its IP address.
func (n *Net) AddHost(name string) string {
	n.t.Helper()
	idx := len(n.hosts) + 1
	n.hosts[name] = idx
	ns := n.Namespace(name)
	port := fmt.Sprintf("p%d", idx)
	n.ip("netns", "add", ns)
	n.ip("-n", ns, "link", "set", "lo", "up")
	n.ip("-n", n.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	n.ip("-n", n.sw, "link", "set", port, "master", "br0", "up")
	n.ip("-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", n.subnet, idx), "dev", "eth0")
	n.ip("-n", ns, "link", "set", "eth0", "up")
	return n.IP(name)
}

// HostIP returns the address of the test process on the network. A node
// that the test starts outside any namespace can listen on it, and the
// hosts reach it through HostInterface.
func (n *Net) HostIP() string { return n.subnet + ".254" }

// HostInterface returns the name of the test process's interface on the
// network, which carries exactly the traffic between the hosts and the
// test process.
func (n *Net) HostInterface() string { return n.hostIf }

// Namespace returns the namespace name of a host.
func (n *Net) Namespace(name string) string {
	return fmt.Sprintf("%s%s", n.prefix, name)
}

// IP returns a host's address.
func (n *Net) IP(name string) string {
	return fmt.Sprintf("%s.%d", n.subnet, n.hosts[name])
}

// Cut drops every packet to and from a host.
func (n *Net) Cut(name string) {
	n.t.Helper()
	n.ip("-n", n.sw, "link", "set", fmt.Sprintf("p%d", n.hosts[name]), "down")
}

// Heal undoes Cut.
func (n *Net) Heal(name string) {
	n.t.Helper()
	n.ip("-n", n.sw, "link", "set", fmt.Sprintf("p%d", n.hosts[name]), "up")
}

// StartIn runs lbd inside a host's namespace. ip netns exec replaces
// itself with lbd, so signals reach lbd directly.
func (n *Net) StartIn(t testing.TB, host, name string, env []string, args ...string) *Proc {
	t.Helper()
	full := append([]string{"netns", "exec", n.Namespace(host), Binary(t)}, args...)
	p := &Proc{Name: name, Args: full, Env: env, log: &syncBuffer{}, done: make(chan struct{}), program: "ip"}
	p.start(t)
	t.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		p.Wait(10 * time.Second)
		if t.Failed() {
			t.Logf("log of %s:\n%s", p.Name, p.Log())
		}
	})
	return p
}

func (n *Net) ip(args ...string) {
	n.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (n *Net) destroy() {
	for name := range n.hosts {
		exec.Command("ip", "netns", "del", n.Namespace(name)).Run()
	}
	exec.Command("ip", "link", "del", n.hostIf).Run()
	exec.Command("ip", "netns", "del", n.sw).Run()
}
