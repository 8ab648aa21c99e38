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

// lane holds the queued tasks of one type in one queue, best first, and the
// workers with a free slot that take them.
type lane struct {
	queue *queueState
	typ   string
	tasks taskQueue
	free  workerHeap
}

// workerHeap orders the workers of one lane that have a free slot, least
// loaded first (busy/slots), then the one that got a task longest ago.
type workerHeap struct {
	lane *lane
	ws   []*laneSlot
}

// laneSlot is a worker's place in the free heap of one of its lanes. The
// worker keeps its slots beside its lanes, so that moving it in every heap
// after its load changed costs no lookup.
type laneSlot struct {
	w   *worker
	idx int // position in the lane's free heap, -1 when not in it
}

func (h *workerHeap) Len() int { return len(h.ws) }

// top returns the least loaded free worker; the heap must not be empty.
func (h *workerHeap) top() *worker { return h.ws[0].w }

func (h *workerHeap) Less(i, j int) bool {
	a, b := h.ws[i].w, h.ws[j].w
	la, lb := a.busy*b.slots, b.busy*a.slots
	if la != lb {
		return la < lb
	}
	return a.lastAssign < b.lastAssign
}

func (h *workerHeap) Swap(i, j int) {
	h.ws[i], h.ws[j] = h.ws[j], h.ws[i]
	h.ws[i].idx = i
	h.ws[j].idx = j
}

func (h *workerHeap) Push(x any) {
	sl := x.(*laneSlot)
	sl.idx = len(h.ws)
	h.ws = append(h.ws, sl)
}

func (h *workerHeap) Pop() any {
	n := len(h.ws) - 1
	sl := h.ws[n]
	h.ws[n] = nil
	h.ws = h.ws[:n]
	sl.idx = -1
	return sl
}

// worker is the scheduler's view of one connected worker. Guarded by
// Scheduler.mu.
type worker struct {
	name       string
	addr       string
	slots      int
	busy       int
	types      []string
	queues     []*workerQueue // in the order the worker listed them
	strict     bool           // queues are served in list order, not by weight
	draining   bool
	since      time.Time
	completed  uint64
	lastAssign uint64 // assignment counter value at its last assignment
	sender     Sender
	running    map[string]*task // task id -> task whose current attempt runs here
	removed    bool
}

// workerQueue is one queue that a worker serves.
type workerQueue struct {
	q      *queueState
	weight int
	// current is the smooth weighted round-robin counter: it grows by
	// weight on each pick among the queues that have tasks, and the queue
	// picked loses the sum of the weights in that pick.
	current int
	lanes   []*lane     // one per task type of the worker
	slots   []*laneSlot // the worker's place in each lane's free heap
}

func (w *worker) available() bool {
	return !w.removed && !w.draining && w.busy < w.slots
}

// reindexLocked puts w into, moves it within, or takes it out of the free
// heap of each of its lanes after its load or state changed. It costs
// O(queues × types × log workers) for the worker's own queues and types.
func (s *Scheduler) reindexLocked(w *worker) {
	available := w.available()
	for _, wq := range w.queues {
		for j, l := range wq.lanes {
			sl := wq.slots[j]
			switch {
			case available && sl.idx >= 0:
				heap.Fix(&l.free, sl.idx)
			case available:
				heap.Push(&l.free, sl)
			case sl.idx >= 0:
				heap.Remove(&l.free, sl.idx)
			}
		}
	}
}

// bindLanesLocked resolves the lanes of each of w's queues for w's types.
// w must be in no free heap.
func (s *Scheduler) bindLanesLocked(w *worker) {
	for _, wq := range w.queues {
		wq.lanes = wq.lanes[:0]
		wq.slots = wq.slots[:0]
		for _, typ := range w.types {
			wq.lanes = append(wq.lanes, s.laneLocked(wq.q.name, typ))
			wq.slots = append(wq.slots, &laneSlot{w: w, idx: -1})
		}
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
		l.free.lane = l
		s.lanes[k] = l
		q.lanes = append(q.lanes, l)
	}
	return l
}
