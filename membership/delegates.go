package membership

import (
	"sync"

	"github.com/hashicorp/memberlist"
)

// metaDelegate serves this node's metadata to memberlist. It carries no
// user messages or state of its own.
type metaDelegate struct {
	mu   sync.Mutex
	meta []byte
}

func (d *metaDelegate) set(b []byte) {
	d.mu.Lock()
	d.meta = b
	d.mu.Unlock()
}

func (d *metaDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil // EncodeMeta already enforces the same limit
	}
	return d.meta
}

func (d *metaDelegate) NotifyMsg([]byte)                           {}
func (d *metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *metaDelegate) LocalState(join bool) []byte                { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// eventDelegate turns memberlist callbacks into queued Events. Callbacks
// run on memberlist's goroutines and must not block.
type eventDelegate struct {
	m *Membership
}

func (d *eventDelegate) NotifyJoin(n *memberlist.Node) {
	d.m.limit.joined(n.Name)
	d.emit(EventJoin, n)
}

// NotifyLeave records the node's address for re-joins. memberlist does not
// update Node.State for the callback (v0.7.0 keeps the state in its own
// nodeState), so a leave and a failure look alike here.
func (d *eventDelegate) NotifyLeave(n *memberlist.Node) {
	d.m.limit.left(n.Name)
	d.m.mu.Lock()
	d.m.failed[n.Address()] = timeNow()
	d.m.mu.Unlock()
	d.emit(EventLeave, n)
}

func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) {
	d.emit(EventUpdate, n)
}

func (d *eventDelegate) emit(kind EventKind, n *memberlist.Node) {
	if n.Name == d.m.cfg.Node {
		return
	}
	mem := toMember(n)
	if kind == EventLeave {
		mem.State = "left or failed"
	}
	if mem.Foreign {
		d.m.logForeign(mem)
		return
	}
	lg := d.m.log.With("member", mem.Name, "addr", mem.Addr, "role", mem.Meta.Role)
	switch kind {
	case EventJoin:
		lg.Info("member joined", "version", mem.Meta.Version, "slots", mem.Meta.Slots)
	case EventLeave:
		lg.Info("member left or failed")
	case EventUpdate:
		lg.Debug("member updated")
	}
	d.m.events.push(Event{Kind: kind, Member: mem, At: timeNow()})
}

func (m *Membership) logForeign(mem Member) {
	m.mu.Lock()
	seen := m.foreign[mem.Name]
	m.foreign[mem.Name] = true
	m.mu.Unlock()
	if !seen {
		m.log.Warn("ignoring a gossip node that is not an lbd node of this version; it gets no tasks",
			"member", mem.Name, "addr", mem.Addr)
	}
}

// conflictDelegate records name conflicts about this node's own name. A
// conflict seen while joining stops start-up; one seen later is logged.
type conflictDelegate struct {
	m *Membership
}

func (d *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name != d.m.cfg.Node {
		d.m.log.Warn("two nodes claim one name", "member", existing.Name,
			"addr", existing.Address(), "other_addr", other.Address())
		return
	}
	d.m.log.Error("another node uses this node's name", "node", existing.Name, "other_addr", other.Address())
	d.m.mu.Lock()
	d.m.conflicts = append(d.m.conflicts, other.Address())
	d.m.mu.Unlock()
}
