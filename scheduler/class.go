package scheduler

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// workerClass is the set of connected workers that list the same queues in
// the same order and serve the same task types. Its workers share one
// free-worker heap, so an assignment or a completion moves a worker in one
// heap, however many queues and types it serves. A worker's next queue is
// picked among the class's ready queues, without looking at empty ones.
// Guarded by Scheduler.mu.
type workerClass struct {
	key    string
	queues []*queueState
	// lanes[i] are the lanes of queues[i], one per task type of the class.
	lanes [][]*lane
	// pending[i] counts the lanes in lanes[i] that hold a task.
	pending []int
	// ready contains i when queues[i] is not paused and pending[i] > 0.
	ready   bitset
	free    workerHeap // the class's workers that have a free slot
	workers int        // connected workers in the class
}

// refresh recomputes whether queue i of the class has tasks to hand out.
func (c *workerClass) refresh(i int) {
	c.ready.set(i, c.pending[i] > 0 && !c.queues[i].paused)
}

// topLane returns the lane of queue i whose first task comes first among
// the class's types, or nil when every one of those lanes is empty.
func (c *workerClass) topLane(i int) *lane {
	var best *lane
	for _, l := range c.lanes[i] {
		if l.tasks.len() > 0 && (best == nil || taskBefore(l.tasks.top(), best.tasks.top())) {
			best = l
		}
	}
	return best
}

// classKey returns the name of the class of a worker with the given queues
// and its sorted, deduplicated types. Each name is prefixed with its
// length, so that no two different lists give the same key.
func classKey(queues []workerQueue, types []string) string {
	var b strings.Builder
	for _, wq := range queues {
		b.WriteString(strconv.Itoa(len(wq.q.name)))
		b.WriteByte(':')
		b.WriteString(wq.q.name)
	}
	b.WriteByte('/')
	for _, typ := range types {
		b.WriteString(strconv.Itoa(len(typ)))
		b.WriteByte(':')
		b.WriteString(typ)
	}
	return b.String()
}

// bindClassLocked adds w to the class of its queues and types, created on
// first use. w must be in no class.
func (s *Scheduler) bindClassLocked(w *worker) {
	types := slices.Clone(w.types)
	slices.Sort(types)
	types = slices.Compact(types)
	key := classKey(w.queues, types)
	c := s.classes[key]
	if c == nil {
		c = s.newClassLocked(key, w.queues, types)
		s.classes[key] = c
	}
	c.workers++
	w.class = c
	w.freePos = -1
}

// newClassLocked creates a class and registers it with each lane that it
// serves. It costs O(queues × types), once per distinct worker
// configuration.
func (s *Scheduler) newClassLocked(key string, queues []workerQueue, types []string) *workerClass {
	c := &workerClass{
		key:     key,
		queues:  make([]*queueState, len(queues)),
		lanes:   make([][]*lane, len(queues)),
		pending: make([]int, len(queues)),
		ready:   newBitset(len(queues)),
	}
	for i, wq := range queues {
		c.queues[i] = wq.q
		for _, typ := range types {
			l := s.laneLocked(wq.q.name, typ)
			l.classes = append(l.classes, classRef{class: c, queue: i})
			c.lanes[i] = append(c.lanes[i], l)
			if l.tasks.len() > 0 {
				c.pending[i]++
			}
		}
		c.refresh(i)
	}
	return c
}

// unbindClassLocked takes w out of its class, and drops the class from its
// lanes once its last worker left. w must not be in the class's free heap.
func (s *Scheduler) unbindClassLocked(w *worker) {
	c := w.class
	w.class = nil
	c.workers--
	if c.workers > 0 {
		return
	}
	delete(s.classes, c.key)
	for _, lanes := range c.lanes {
		for _, l := range lanes {
			l.classes = slices.DeleteFunc(l.classes, func(ref classRef) bool { return ref.class == c })
		}
	}
}

// refreshQueueLocked updates the ready set of every class that serves q,
// after q was paused or resumed.
func (s *Scheduler) refreshQueueLocked(q *queueState) {
	for _, l := range q.lanes {
		for _, ref := range l.classes {
			ref.class.refresh(ref.queue)
		}
	}
}

// bitset is a set of small non-negative integers, one bit each.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int, member bool) {
	if member {
		b[i/64] |= 1 << (i % 64)
	} else {
		b[i/64] &^= 1 << (i % 64)
	}
}

// next returns the smallest member that is i or larger, or -1 when there is
// none.
func (b bitset) next(i int) int {
	for word := i / 64; word < len(b); word++ {
		members := b[word]
		if word == i/64 {
			members &= ^uint64(0) << (i % 64)
		}
		if members != 0 {
			return word*64 + bits.TrailingZeros64(members)
		}
	}
	return -1
}
