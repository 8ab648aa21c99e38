package scheduler

import (
	"container/heap"
	"time"
)

// typeState holds what the scheduler keeps per task type: its name, which
// every task of the type shares instead of a copy of its own, and the
// cached metrics observer.
type typeState struct {
	name string
	obs  TypeObserver // nil until the first event of the type
}

// laneKey names the lane of one task type in one queue.
type laneKey struct {
	queue, typ string
}

// lane holds the queued tasks of one type in one queue, best first.
type lane struct {
	queue *queueState
	typ   string
	tasks taskQueue
	// classes are the worker classes whose workers serve this lane, each
	// with the index of the lane's queue in the class's queue list.
	classes []classRef
}

// classRef is a worker class that serves a lane, and the index of the
// lane's queue in the class's queue list.
type classRef struct {
	class *workerClass
	queue int
}

// countPending adds delta to the non-empty lanes that each class serving l
// counts for l's queue. enqueueLocked and unqueueLocked call it when l
// becomes non-empty or empty.
func (l *lane) countPending(delta int) {
	for _, ref := range l.classes {
		ref.class.pending[ref.queue] += delta
		ref.class.refresh(ref.queue)
	}
}

// freeWorker returns the least loaded worker with a free slot that serves
// l, or nil when there is none. It compares the first worker of the free
// heap of each class that serves l, so it costs one step per such class.
// That is one step when every worker has the same queues and types, and up
// to one per worker when every worker lists different ones.
func (l *lane) freeWorker() *worker {
	var best *worker
	for _, ref := range l.classes {
		free := &ref.class.free
		if free.Len() > 0 && (best == nil || lessLoaded(free.top(), best)) {
			best = free.top()
		}
	}
	return best
}

// workerHeap orders the workers of one class that have a free slot, least
// loaded first. Each worker stores its position, so a change of its load
// moves it in O(log n).
type workerHeap []*worker

func (h workerHeap) Len() int { return len(h) }

// top returns the least loaded free worker. The heap must not be empty.
func (h workerHeap) top() *worker { return h[0] }

func (h workerHeap) Less(i, j int) bool { return lessLoaded(h[i], h[j]) }

func (h workerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].freePos = i
	h[j].freePos = j
}

func (h *workerHeap) Push(x any) {
	w := x.(*worker)
	w.freePos = len(*h)
	*h = append(*h, w)
}

func (h *workerHeap) Pop() any {
	old := *h
	n := len(old) - 1
	w := old[n]
	old[n] = nil
	*h = old[:n]
	w.freePos = -1
	return w
}

// lessLoaded reports whether a gets the next task before b: the lower share
// of busy slots (busy/slots) first, then the one that got a task longest
// ago.
func lessLoaded(a, b *worker) bool {
	la, lb := a.busy*b.slots, b.busy*a.slots
	if la != lb {
		return la < lb
	}
	return a.lastAssign < b.lastAssign
}

// worker is the scheduler's view of one connected worker. Guarded by
// Scheduler.mu.
type worker struct {
	name       string
	addr       string
	slots      int
	busy       int
	types      []string
	queues     []workerQueue // in the order the worker listed them
	strict     bool          // queues are served in list order, not by weight
	draining   bool
	since      time.Time
	completed  uint64
	lastAssign uint64 // assignment counter value at its last assignment
	sender     Sender
	running    map[string]*task // task id -> task whose current attempt runs here
	removed    bool

	class   *workerClass // the workers with w's queues and types; nil once removed
	freePos int          // position in class.free, -1 when not in it
}

// workerQueue is one queue that a worker serves. w.queues[i] is the queue
// class.queues[i] of the worker's class.
type workerQueue struct {
	q      *queueState
	weight int
	// current is the smooth weighted round-robin counter: it grows by
	// weight on each pick among the queues that have tasks, and the queue
	// picked loses the sum of the weights in that pick.
	current int
}

func (w *worker) available() bool {
	return !w.removed && !w.draining && w.busy < w.slots
}

// reindexLocked puts w into, moves it within, or takes it out of its
// class's free heap after its load or state changed. It costs
// O(log workers), whatever the number of queues and types of w.
func (s *Scheduler) reindexLocked(w *worker) {
	available := w.available()
	switch {
	case available && w.freePos >= 0:
		heap.Fix(&w.class.free, w.freePos)
	case available:
		heap.Push(&w.class.free, w)
	case w.freePos >= 0:
		heap.Remove(&w.class.free, w.freePos)
	}
}

func (s *Scheduler) typeLocked(name string) *typeState {
	ts := s.types[name]
	if ts == nil {
		ts = &typeState{name: name}
		s.types[name] = ts
	}
	return ts
}

func (s *Scheduler) laneLocked(queue, typ string) *lane {
	k := laneKey{queue: queue, typ: typ}
	l := s.lanes[k]
	if l == nil {
		q := s.queueLocked(queue)
		l = &lane{queue: q, typ: typ}
		s.lanes[k] = l
		q.lanes = append(q.lanes, l)
	}
	return l
}
