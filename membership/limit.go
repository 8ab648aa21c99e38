package membership

import (
	"fmt"
	"sync"

	"github.com/hashicorp/memberlist"
)

// memberLimit caps the number of alive members that this node tracks. It
// is memberlist's AliveDelegate: memberlist ignores an alive message about
// a node that NotifyAlive rejects, so a flood of made-up nodes cannot grow
// the member list without bound.
type memberLimit struct {
	max int

	mu    sync.Mutex
	alive map[string]bool // names of members that joined and did not leave or fail
}

func newMemberLimit(maximum int) *memberLimit {
	return &memberLimit{max: maximum, alive: make(map[string]bool)}
}

// NotifyAlive accepts a node that is already a member, or any node while
// fewer than max are. memberlist calls it with its node lock held, so it
// reads only the limit's own state.
func (l *memberLimit) NotifyAlive(peer *memberlist.Node) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.alive[peer.Name] || len(l.alive) < l.max {
		return nil
	}
	return fmt.Errorf("this node already tracks max_members = %d members: raise max_members if the cluster is that large", l.max)
}

func (l *memberLimit) joined(name string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.alive[name] = true
	l.mu.Unlock()
}

func (l *memberLimit) left(name string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.alive, name)
	l.mu.Unlock()
}
