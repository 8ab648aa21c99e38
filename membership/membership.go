// Package membership runs lbd's gossip layer on hashicorp/memberlist. Every
// node gossips its role, version, slots, task types and (on the master) the
// task and HTTP addresses. The daemon turns the join, update and failure
// events of worker nodes into scheduler calls; a worker finds the master's
// task address here.
package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/lbd-dev/lbd/wire"
)

// Config sets up a node's membership.
type Config struct {
	Node      string
	Bind      string   // gossip bind address host:port; port 0 picks a free port
	Advertise string   // address other nodes use, host:port or host; "" lets memberlist choose
	Join      []string // seed addresses host:port, joined until one responds
	// RejoinInterval is how often the node joins its seeds and the
	// addresses of failed peers again, so that membership heals after a
	// partition that outlasted memberlist's memory of dead nodes.
	RejoinInterval time.Duration
	Meta           wire.Meta
	Logger         *slog.Logger

	// Keys are the gossip encryption keys, the primary first, each 16, 24
	// or 32 bytes. Empty means no encryption. With keys, the node accepts
	// only gossip encrypted with one of them.
	Keys [][]byte

	// MaxMembers caps the alive members this node tracks, itself
	// included. Alive messages about further nodes are ignored. 0 means
	// no limit.
	MaxMembers int

	// Tune adjusts the memberlist configuration after the defaults below;
	// tests use it for shorter timers.
	Tune func(*memberlist.Config)
}

// EventKind is the kind of a membership change.
type EventKind int

// Member events.
const (
	EventJoin EventKind = iota + 1
	EventUpdate
	EventLeave // left on purpose or failed; see Member.State
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	}
	return "unknown"
}

// ErrNameConflict means that another live node uses this node's name.
var ErrNameConflict = errors.New("node name conflict")

// Member is one node in this node's gossip view.
type Member struct {
	Name    string
	Addr    string // gossip address host:port
	State   string // "alive" (alive or suspect), or "left or failed" in a leave event
	Meta    wire.Meta
	Foreign bool // metadata is not lbd's: never scheduled
}

// Event is one membership change.
type Event struct {
	Kind   EventKind
	Member Member
	At     time.Time // when gossip reported it
}

// Membership is a running gossip member.
type Membership struct {
	cfg  Config
	log  *slog.Logger
	ml   *memberlist.Memberlist
	meta *metaDelegate

	keyring *memberlist.Keyring // nil when gossip is not encrypted; safe for concurrent use
	limit   *memberLimit        // nil when MaxMembers is 0

	events *eventQueue

	mu        sync.Mutex
	conflicts []string             // name conflicts seen for this node's own name
	failed    map[string]time.Time // gossip addresses of failed peers -> when they failed
	foreign   map[string]bool      // foreign node names already logged

	rejoinNow chan struct{} // a token makes rejoinLoop run at once
	quit      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
}

// LANConfig returns the memberlist settings lbd uses. They are memberlist's
// LAN profile: a 1 s probe interval, a 500 ms probe timeout and a suspicion
// of 4 × log10(N) probe intervals, at least 4 s. lbd adds a dead node's name
// becoming reclaimable after 1 s, so that a node restarted at a new address
// is a member again within seconds instead of after the 30 s that dead
// nodes are otherwise remembered.
func LANConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.DeadNodeReclaimTime = time.Second
	return c
}

// Start binds the gossip port and starts joining the seeds in the
// background. It fails at once when the port is taken.
func Start(cfg Config) (*Membership, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RejoinInterval <= 0 {
		cfg.RejoinInterval = 30 * time.Second
	}
	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "gossip"),
		events:  newEventQueue(),
		failed:  make(map[string]time.Time),
		foreign: make(map[string]bool),

		rejoinNow: make(chan struct{}, 1),
		quit:      make(chan struct{}),
	}
	meta, err := wire.EncodeMeta(cfg.Meta, wire.MaxMetaSize)
	if err != nil {
		return nil, err
	}
	m.meta = &metaDelegate{meta: meta}
	if m.keyring, err = newKeyring(cfg.Keys); err != nil {
		return nil, err
	}
	if cfg.MaxMembers > 0 {
		m.limit = newMemberLimit(cfg.MaxMembers)
	}

	mc, err := m.memberlistConfig()
	if err != nil {
		return nil, err
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, bindError(cfg.Bind, err)
	}
	m.ml = ml

	m.wg.Add(1)
	go m.rejoinLoop()
	return m, nil
}

func (m *Membership) memberlistConfig() (*memberlist.Config, error) {
	host, port, err := splitHostPort(m.cfg.Bind, "bind")
	if err != nil {
		return nil, err
	}
	mc := LANConfig()
	mc.Name = m.cfg.Node
	mc.BindAddr = host
	mc.BindPort = port
	mc.AdvertisePort = port
	if m.cfg.Advertise != "" {
		ahost, aport, err := splitAdvertise(m.cfg.Advertise, port)
		if err != nil {
			return nil, err
		}
		mc.AdvertiseAddr = ahost
		mc.AdvertisePort = aport
	}
	if m.keyring != nil {
		mc.Keyring = m.keyring
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	if m.limit != nil {
		mc.Alive = m.limit
	}
	mc.Delegate = m.meta
	mc.Events = &eventDelegate{m: m}
	mc.Conflict = &conflictDelegate{m: m}
	mc.Logger = newStdLogger(m.log)
	if m.cfg.Tune != nil {
		m.cfg.Tune(mc)
	}
	return mc, nil
}

func splitHostPort(addr, setting string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("invalid %s address %q: %w (expected host:port)", setting, addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid %s port in %q: must be 0..65535", setting, addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

func splitAdvertise(addr string, defaultPort int) (string, int, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return addr, defaultPort, nil // a bare host keeps the bind port
	}
	return splitHostPort(addr, "advertise")
}

// bindError names the address and the setting that changes it when the
// gossip port cannot be bound.
func bindError(bind string, err error) error {
	// memberlist formats the listener's error with %v, so the errno is
	// matched in the text as well.
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
		return fmt.Errorf("gossip address %s is already in use by another program: choose a free port with -bind (LBD_BIND, key bind): %w", bind, err)
	}
	return fmt.Errorf("start gossip on %s: %w", bind, err)
}

// JoinSeeds joins the configured seeds once and returns how many responded.
// A node with no seeds is the first node of its cluster and returns 0, nil.
// When gossip reports another node under this node's name, JoinSeeds
// probes that node's address: a live node there is an ErrNameConflict; a
// silent one is this node's own earlier process, not yet declared dead, and
// JoinSeeds returns errNameNotFree so that the caller retries.
func (m *Membership) JoinSeeds() (int, error) {
	if len(m.cfg.Join) == 0 {
		return 0, nil
	}
	n, err := m.ml.Join(m.cfg.Join)
	if others := m.takeConflicts(); len(others) > 0 {
		for _, addr := range others {
			if listening(addr) {
				return n, fmt.Errorf("%w: node name %q is already used by a live node at %s: give this node another name with -node (LBD_NODE, key node)",
					ErrNameConflict, m.cfg.Node, addr)
			}
		}
		return n, fmt.Errorf("%w: the cluster still lists %q at %s, which does not respond", errNameNotFree, m.cfg.Node, others[0])
	}
	if n == 0 {
		return 0, m.joinError(err)
	}
	return n, nil
}

// joinError wraps the error of a join that no seed accepted. A seed that
// cannot decrypt this node's gossip closes the connection without giving a
// reason, so when the error text does not name encryption, a seed that
// responded and then hung up is reported as a possible key mismatch.
func (m *Membership) joinError(err error) error {
	if err != nil && isKeyMismatch(err.Error()) {
		return fmt.Errorf("%w: join %v: %w: %s", ErrKeyMismatch, m.cfg.Join, err, keyMismatchHint)
	}
	if err != nil && isHangUp(err.Error()) {
		return fmt.Errorf("join %v: %w: the seed closed the connection, which is what it does when its gossip key differs from this node's (encryption on: %t); %s",
			m.cfg.Join, err, m.Encrypted(), keyMismatchHint)
	}
	return fmt.Errorf("join %v: %w", m.cfg.Join, err)
}

// isHangUp reports whether a join error's text reports that the peer closed
// the connection.
func isHangUp(text string) bool {
	return strings.Contains(text, "EOF") || strings.Contains(text, "connection reset by peer")
}

// errNameNotFree means that the cluster still lists this node's name at an
// address where nothing responds, typically this node before a restart.
var errNameNotFree = errors.New("node name not yet free")

// listening reports whether a gossip TCP listener accepts connections at addr.
func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// WaitJoined joins the seeds, retrying with backoff until one answers, the
// timeout passes (0 means no limit) or Shutdown is called. A name
// conflict with a live node ends it at once with an error.
func (m *Membership) WaitJoined(timeout time.Duration) error {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	delay := 100 * time.Millisecond
	for {
		n, err := m.JoinSeeds()
		if err == nil {
			if n > 0 {
				m.log.Info("joined cluster", "seeds", m.cfg.Join, "answered", n, "members", m.ml.NumMembers())
			}
			return nil
		}
		if errors.Is(err, ErrNameConflict) {
			return err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("no seed responded within %s: %w", timeout, err)
		}
		if errors.Is(err, errNameNotFree) {
			m.log.Warn("waiting for the cluster to declare this node's earlier process dead", "retry_in", delay, "err", err)
		} else {
			m.log.Warn("join failed, retrying", "seeds", m.cfg.Join, "retry_in", delay, "err", err)
		}
		select {
		case <-m.quit:
			return fmt.Errorf("shut down before joining: %w", err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

func (m *Membership) takeConflicts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conflicts
	m.conflicts = nil
	return c
}

// minRejoinGap bounds how often RejoinSoon makes the node join again.
const minRejoinGap = time.Second

// RejoinSoon requests a join of the seeds and failed peers now instead of
// at the next RejoinInterval, for a worker that lost sight of its master.
// Calls closer together than one second are merged.
func (m *Membership) RejoinSoon() {
	select {
	case m.rejoinNow <- struct{}{}:
	default:
	}
}

// JoinAddr joins one node at addr, for a master that learns of a worker on
// its task port before gossip reports it.
func (m *Membership) JoinAddr(addr string) error {
	_, err := m.ml.Join([]string{addr})
	return err
}

// rejoinLoop joins the seeds and recently failed peers every
// RejoinInterval, or sooner on RejoinSoon, while any of them is not an
// alive member.
func (m *Membership) rejoinLoop() {
	defer m.wg.Done()
	ticker := time.NewTicker(m.cfg.RejoinInterval)
	defer ticker.Stop()
	var last time.Time
	for {
		select {
		case <-m.quit:
			return
		case <-ticker.C:
		case <-m.rejoinNow:
			if wait := minRejoinGap - time.Since(last); wait > 0 {
				select {
				case <-m.quit:
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		targets := m.rejoinTargets()
		if len(targets) == 0 {
			continue
		}
		before := m.ml.NumMembers()
		n, err := m.ml.Join(targets)
		if after := m.ml.NumMembers(); after > before {
			m.log.Info("re-joined peers", "targets", targets, "answered", n, "members", after)
		} else if n > 0 {
			m.log.Debug("re-join found no new member", "targets", targets, "answered", n)
		} else {
			m.log.Debug("re-join found no peer", "targets", targets, "err", err)
		}
	}
}

// failedMemory is how long the address of a failed peer is re-joined.
const failedMemory = 24 * time.Hour

func (m *Membership) rejoinTargets() []string {
	alive := make(map[string]bool)
	for _, n := range m.ml.Members() {
		alive[n.Address()] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	now := time.Now()
	for addr, at := range m.failed {
		if now.Sub(at) > failedMemory || alive[addr] {
			delete(m.failed, addr)
			continue
		}
		out = append(out, addr)
	}
	if len(m.ml.Members()) <= 1 || len(out) > 0 {
		out = append(out, m.cfg.Join...)
	} else {
		// Seeds given by name may resolve to addresses that differ from
		// the members' addresses; join them only while the cluster lacks
		// a master.
		if !m.hasMasterLocked() {
			out = append(out, m.cfg.Join...)
		}
	}
	return out
}

func (m *Membership) hasMasterLocked() bool {
	for _, n := range m.ml.Members() {
		if meta, err := wire.DecodeMeta(n.Meta); err == nil && meta.Role == wire.RoleMaster {
			return true
		}
	}
	return false
}

// Events returns the channel of membership changes of other nodes. It is
// never closed; a slow reader delays no gossip because events queue.
func (m *Membership) Events() <-chan Event { return m.events.out }

// Members returns every node in this node's gossip view, this one included.
func (m *Membership) Members() []Member {
	nodes := m.ml.Members()
	out := make([]Member, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, toMember(n))
	}
	return out
}

// Member returns the alive lbd member with the given name.
func (m *Membership) Member(name string) (Member, bool) {
	for _, n := range m.ml.Members() {
		if n.Name == name {
			mem := toMember(n)
			return mem, !mem.Foreign
		}
	}
	return Member{}, false
}

// MasterTaskAddr returns the task address of the alive master, with an
// unspecified host (0.0.0.0 or ::) replaced by the master's gossip address.
func (m *Membership) MasterTaskAddr() string {
	_, addr := m.masterTask()
	return addr
}

// MasterNameAt returns the node name of the master whose task address, as
// MasterTaskAddr returns it, is addr, or "" when gossip lists none.
func (m *Membership) MasterNameAt(addr string) string {
	name, a := m.masterTask()
	if a != addr {
		return ""
	}
	return name
}

// masterTask returns the node name and task address of the master whose
// name sorts first, or "" and "".
func (m *Membership) masterTask() (name, addr string) {
	var best *memberlist.Node
	var bestMeta wire.Meta
	for _, n := range m.ml.Members() {
		meta, err := wire.DecodeMeta(n.Meta)
		if err != nil || meta.Role != wire.RoleMaster || meta.TaskAddr == "" {
			continue
		}
		if best == nil || n.Name < best.Name {
			best, bestMeta = n, meta
		}
	}
	if best == nil {
		return "", ""
	}
	host, port, err := net.SplitHostPort(bestMeta.TaskAddr)
	if err != nil {
		return "", ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = best.Addr.String()
	}
	return best.Name, net.JoinHostPort(host, port)
}

// LocalAddr returns this node's advertised gossip address.
func (m *Membership) LocalAddr() string {
	return m.ml.LocalNode().Address()
}

// LocalIP returns this node's advertised gossip IP.
func (m *Membership) LocalIP() net.IP {
	return m.ml.LocalNode().Addr
}

// NumMembers returns the number of alive members, this node included.
func (m *Membership) NumMembers() int { return m.ml.NumMembers() }

// UpdateMeta gossips new metadata for this node.
func (m *Membership) UpdateMeta(meta wire.Meta) error {
	b, err := wire.EncodeMeta(meta, wire.MaxMetaSize)
	if err != nil {
		return err
	}
	m.meta.set(b)
	return m.ml.UpdateNode(5 * time.Second)
}

// Leave broadcasts that this node leaves the cluster, waiting up to timeout for the
// message to spread, then stops gossip. Safe to call more than once.
func (m *Membership) Leave(timeout time.Duration) error {
	var err error
	m.stopOnce.Do(func() {
		close(m.quit)
		m.wg.Wait()
		if lerr := m.ml.Leave(timeout); lerr != nil {
			err = fmt.Errorf("leave cluster: %w", lerr)
		}
		if serr := m.ml.Shutdown(); serr != nil && err == nil {
			err = fmt.Errorf("stop gossip: %w", serr)
		}
		m.events.close()
	})
	return err
}

// Shutdown stops gossip without telling the cluster; others see this node
// fail. Safe to call more than once and after Leave.
func (m *Membership) Shutdown() error {
	var err error
	m.stopOnce.Do(func() {
		close(m.quit)
		m.wg.Wait()
		err = m.ml.Shutdown()
		m.events.close()
	})
	return err
}

func toMember(n *memberlist.Node) Member {
	mem := Member{Name: n.Name, Addr: n.Address(), State: "alive"}
	meta, err := wire.DecodeMeta(n.Meta)
	if err != nil {
		mem.Foreign = true
	} else {
		mem.Meta = meta
	}
	return mem
}
