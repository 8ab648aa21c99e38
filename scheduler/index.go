package scheduler

import (
	"container/heap"
	"time"
)

// typeState is the queue of one task type and the workers with a free slot
// that run it.
type typeState struct {
	name   string
	queue  fifo
	free   workerHeap
	queued int          // valid entries in queue
	obs    TypeObserver // nil until the first event of the type
}

func newTypeState(name string) *typeState {
	return &typeState{name: name, free: workerHeap{typ: name}}
}

// queueEntry is one place in a fifo. It is valid while the task is still
// queued under the same generation; cancel and adoption leave stale entries
// behind, which peek skips.
type queueEntry struct {
	t   *task
	gen uint32
}

func (e queueEntry) valid() bool {
	return e.t.inQueue && e.t.queueGen == e.gen && e.t.status == StatusQueued
}

// fifo is a queue with lazy deletion.
type fifo struct {
	items []queueEntry
	head  int
}

func (q *fifo) push(t *task) {
	t.queueGen++
	t.inQueue = true
	q.items = append(q.items, queueEntry{t: t, gen: t.queueGen})
}

// peek returns the first valid task, dropping stale entries before it.
func (q *fifo) peek() *task {
	for q.head < len(q.items) {
		e := q.items[q.head]
		if e.valid() {
			return e.t
		}
		q.items[q.head] = queueEntry{}
		q.head++
	}
	q.reset()
	return nil
}

// pop removes the task that peek returned.
func (q *fifo) pop() {
	q.items[q.head].t.inQueue = false
	q.items[q.head] = queueEntry{}
	q.head++
	if q.head == len(q.items) {
		q.reset()
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}

func (q *fifo) reset() {
	q.items = q.items[:0]
	q.head = 0
}

// workerHeap orders the workers of one type that have a free slot, least
// loaded first (busy/slots), then the one that got a task longest ago.
type workerHeap struct {
	typ string
	ws  []*worker
}

func (h *workerHeap) Len() int { return len(h.ws) }

func (h *workerHeap) Less(i, j int) bool {
	a, b := h.ws[i], h.ws[j]
	la, lb := a.busy*b.slots, b.busy*a.slots
	if la != lb {
		return la < lb
	}
	return a.lastAssign < b.lastAssign
}

func (h *workerHeap) Swap(i, j int) {
	h.ws[i], h.ws[j] = h.ws[j], h.ws[i]
	h.ws[i].heapIndex[h.typ] = i
	h.ws[j].heapIndex[h.typ] = j
}

func (h *workerHeap) Push(x any) {
	w := x.(*worker)
	w.heapIndex[h.typ] = len(h.ws)
	h.ws = append(h.ws, w)
}

func (h *workerHeap) Pop() any {
	n := len(h.ws) - 1
	w := h.ws[n]
	h.ws[n] = nil
	h.ws = h.ws[:n]
	delete(w.heapIndex, h.typ)
	return w
}

// worker is the scheduler's view of one connected worker. Guarded by
// Scheduler.mu.
type worker struct {
	name       string
	addr       string
	slots      int
	busy       int
	types      []string
	draining   bool
	since      time.Time
	completed  uint64
	lastAssign uint64 // assignment counter value at its last assignment
	sender     Sender
	running    map[string]*task // task id -> task whose current attempt runs here
	heapIndex  map[string]int   // type -> index in that type's free heap
	removed    bool
}

func (w *worker) available() bool {
	return !w.removed && !w.draining && w.busy < w.slots
}

// reindexLocked puts w into, moves it within, or takes it out of the free
// heap of each of its types after its load or state changed.
func (s *Scheduler) reindexLocked(w *worker) {
	for _, typ := range w.types {
		ts := s.typeLocked(typ)
		i, present := w.heapIndex[typ]
		switch {
		case w.available() && present:
			heap.Fix(&ts.free, i)
		case w.available():
			heap.Push(&ts.free, w)
		case present:
			heap.Remove(&ts.free, i)
		}
	}
}

func (s *Scheduler) typeLocked(name string) *typeState {
	ts := s.types[name]
	if ts == nil {
		ts = newTypeState(name)
		s.types[name] = ts
	}
	return ts
}
