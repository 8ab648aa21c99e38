package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// indexWorkerConfigs are the queue lists and types that workers of the
// randomized test pick from. Some share a class, some list the same queues
// in another order, one is strict and one serves no type at all.
var indexWorkerConfigs = []struct {
	queues []QueueWeight
	types  []string
	strict bool
}{
	{[]QueueWeight{{"a", 6}, {"b", 3}, {"c", 1}}, []string{"x", "y"}, false},
	{[]QueueWeight{{"a", 6}, {"b", 3}, {"c", 1}}, []string{"y", "x", "x"}, false},
	{[]QueueWeight{{"c", 1}, {"b", 1}, {"a", 1}}, []string{"x"}, false},
	{[]QueueWeight{{"b", 2}, {"d", 5}}, []string{"y", "z"}, false},
	{[]QueueWeight{{"a", 1}, {"d", 1}, {"e", 1}}, []string{"z"}, true},
	{nil, []string{"x", "z"}, false},
	{[]QueueWeight{{"e", 1000}, {"default", 1}}, []string{"x", "y", "z"}, false},
	{[]QueueWeight{{"a", 1}}, nil, false},
}

var (
	indexQueues = []string{"a", "b", "c", "d", "e", "default", "nobody"}
	indexTypes  = []string{"x", "y", "z", "w"}
)

// indexRun drives one scheduler through random operations and checks its
// index against a brute-force reading of the same state after each one.
type indexRun struct {
	t       *testing.T
	s       *Scheduler
	rng     *rand.Rand
	handles map[string]*WorkerHandle
	serial  int
}

func TestIndexRandomOperations(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newTestScheduler(t, func(c *Config) {
				c.MaxQueuedTasks = 100_000
				c.MaxQueuedBytes = 1 << 30
				// Failed attempts wait in retrying for the whole test, so
				// that the timer goroutine never dispatches between a step
				// and its check.
				c.RetryBackoff = time.Hour
				c.RetryBackoffMax = time.Hour
			})
			r := &indexRun{t: t, s: s, rng: rand.New(rand.NewPCG(seed, 42)), handles: map[string]*WorkerHandle{}}
			for range 4 {
				r.addWorker()
			}
			for step := range 3000 {
				op := r.step()
				if err := r.check(); err != nil {
					t.Fatalf("step %d (%s): %v", step, op, err)
				}
			}
		})
	}
}

// step runs one random operation and returns its name.
func (r *indexRun) step() string {
	switch n := r.rng.IntN(100); {
	case n < 40:
		r.submitOne()
		return "submit"
	case n < 44:
		r.submitBatch()
		return "submit batch"
	case n < 72:
		r.complete()
		return "complete"
	case n < 76:
		q := indexQueues[r.rng.IntN(len(indexQueues))]
		if err := r.s.Pause(q); err != nil {
			r.t.Fatalf("Pause %s: %v", q, err)
		}
		return "pause " + q
	case n < 82:
		q := indexQueues[r.rng.IntN(len(indexQueues))]
		if err := r.s.Resume(q); err != nil {
			r.t.Fatalf("Resume %s: %v", q, err)
		}
		return "resume " + q
	case n < 86:
		r.addWorker()
		return "add worker"
	case n < 89:
		if name := r.anyWorker(); name != "" {
			r.s.RemoveWorker(r.handles[name], "test")
			delete(r.handles, name)
		}
		return "remove worker"
	case n < 91:
		if name := r.anyWorker(); name != "" {
			r.s.SetDraining(r.handles[name])
		}
		return "drain worker"
	case n < 94:
		if name := r.anyWorker(); name != "" {
			types := indexWorkerConfigs[r.rng.IntN(len(indexWorkerConfigs))].types
			if err := r.s.UpdateWorker(r.handles[name], 1+r.rng.IntN(4), types); err != nil {
				r.t.Fatalf("UpdateWorker %s: %v", name, err)
			}
		}
		return "update worker"
	case n < 99:
		r.cancel()
		return "cancel"
	default:
		q := indexQueues[r.rng.IntN(len(indexQueues))]
		if _, err := r.s.Purge(q); err != nil {
			r.t.Fatalf("Purge %s: %v", q, err)
		}
		return "purge " + q
	}
}

func (r *indexRun) spec() Spec {
	return Spec{
		Type:     indexTypes[r.rng.IntN(len(indexTypes))],
		Queue:    indexQueues[r.rng.IntN(len(indexQueues))],
		Priority: r.rng.IntN(5) - 2,
	}
}

// submitOne submits one task and checks that it went to the least loaded
// free worker that serves its queue and type, or stayed queued when there
// is none or the queue is paused.
func (r *indexRun) submitOne() {
	sp := r.spec()
	r.s.mu.Lock()
	want := r.expectedWorkersLocked(sp.Queue, sp.Type)
	r.s.mu.Unlock()

	ids, err := r.s.Submit([]Spec{sp})
	if err != nil {
		r.t.Fatalf("Submit: %v", err)
	}
	task := mustGet(r.t, r.s, ids[0])
	if len(want) == 0 {
		if task.Status != StatusQueued {
			r.t.Fatalf("task of queue %s type %s is %s on %q, want queued: no free worker serves it",
				sp.Queue, sp.Type, task.Status, task.Worker)
		}
		return
	}
	if task.Status != StatusRunning || !slices.Contains(want, task.Worker) {
		r.t.Fatalf("task of queue %s type %s is %s on %q, want running on one of %v",
			sp.Queue, sp.Type, task.Status, task.Worker, want)
	}
}

// expectedWorkersLocked returns the free workers that a task of the given
// queue and type may go to: every available worker that serves both, the
// least loaded, and among those the ones that got a task longest ago. It
// returns none when the queue is paused or already has such a task queued.
func (r *indexRun) expectedWorkersLocked(queue, typ string) []string {
	s := r.s
	if q := s.queues[queue]; q != nil && q.paused {
		return nil
	}
	if l := s.lanes[laneKey{queue: queue, typ: typ}]; l != nil && l.tasks.len() > 0 {
		return nil
	}
	var best []*worker
	for _, w := range s.workers {
		if !w.available() || !servesLane(w, queue, typ) {
			continue
		}
		switch {
		case len(best) == 0 || lessLoaded(w, best[0]):
			best = []*worker{w}
		case !lessLoaded(best[0], w):
			best = append(best, w)
		}
	}
	names := make([]string, len(best))
	for i, w := range best {
		names[i] = w.name
	}
	return names
}

func servesLane(w *worker, queue, typ string) bool {
	return slices.Contains(w.types, typ) && slices.ContainsFunc(w.queues, func(wq workerQueue) bool { return wq.q.name == queue })
}

func (r *indexRun) submitBatch() {
	specs := make([]Spec, 1+r.rng.IntN(5))
	for i := range specs {
		specs[i] = r.spec()
	}
	if _, err := r.s.Submit(specs); err != nil {
		r.t.Fatalf("Submit batch: %v", err)
	}
}

// complete reports one running attempt of a random worker: a success, a
// hand-back that requeues it or a failure that sends it to retrying.
func (r *indexRun) complete() {
	name := r.anyWorker()
	if name == "" {
		return
	}
	h := r.handles[name]
	running := r.s.WorkerRunning(h)
	if len(running) == 0 {
		return
	}
	a := running[r.rng.IntN(len(running))]
	res := Result{ID: a.ID, Attempt: a.Attempt, OK: true}
	switch r.rng.IntN(10) {
	case 0:
		res = Result{ID: a.ID, Attempt: a.Attempt, HandedBack: true, Error: "worker stopping"}
	case 1:
		res = Result{ID: a.ID, Attempt: a.Attempt, Error: "exit status 1"}
	}
	r.s.Complete(h, res)
}

func (r *indexRun) cancel() {
	r.s.mu.Lock()
	var ids []string
	for id, t := range r.s.tasks {
		if !t.status.Final() {
			ids = append(ids, id)
		}
	}
	r.s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	if _, err := r.s.Cancel(ids[r.rng.IntN(len(ids))]); err != nil {
		r.t.Fatalf("Cancel: %v", err)
	}
}

func (r *indexRun) addWorker() {
	cfg := indexWorkerConfigs[r.rng.IntN(len(indexWorkerConfigs))]
	r.serial++
	name := fmt.Sprintf("w%d", r.serial)
	h, _, err := r.s.AddWorker(WorkerSpec{Name: name, Addr: "127.0.0.1:1", Slots: 1 + r.rng.IntN(4),
		Types: cfg.types, Queues: cfg.queues, StrictOrder: cfg.strict}, &recorder{})
	if err != nil {
		r.t.Fatalf("AddWorker %s: %v", name, err)
	}
	r.handles[name] = h
}

// anyWorker returns the name of a random connected worker, or "".
func (r *indexRun) anyWorker() string {
	names := make([]string, 0, len(r.handles))
	for name := range r.handles {
		names = append(names, name)
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[r.rng.IntN(len(names))]
}

// check compares the scheduler's index with a brute-force reading of its
// state, then compares one worker's pick with the reference pick.
func (r *indexRun) check() error {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkWorkersLocked(s); err != nil {
		return err
	}
	if err := checkClassesLocked(s); err != nil {
		return err
	}
	if err := checkLanesLocked(s); err != nil {
		return err
	}
	if len(s.workers) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.workers))
	for name := range s.workers {
		names = append(names, name)
	}
	slices.Sort(names)
	return checkPickLocked(s, s.workers[names[r.rng.IntN(len(names))]])
}

// checkWorkersLocked checks each worker's busy count, its class and its
// place in the free heap, and that no task waits in a lane that a worker
// with a free slot serves.
func checkWorkersLocked(s *Scheduler) error {
	for _, w := range s.workers {
		if w.busy != len(w.running) {
			return fmt.Errorf("worker %s: busy = %d, but it runs %d attempts", w.name, w.busy, len(w.running))
		}
		if w.class == nil {
			return fmt.Errorf("worker %s has no class", w.name)
		}
		types := slices.Clone(w.types)
		slices.Sort(types)
		if key := classKey(w.queues, slices.Compact(types)); w.class.key != key {
			return fmt.Errorf("worker %s is in class %q, want %q", w.name, w.class.key, key)
		}
		if s.classes[w.class.key] != w.class {
			return fmt.Errorf("worker %s: its class %q is not the scheduler's class of that key", w.name, w.class.key)
		}
		if !w.available() {
			if w.freePos != -1 {
				return fmt.Errorf("worker %s is full, draining or removed but at position %d of the free heap", w.name, w.freePos)
			}
			continue
		}
		if w.freePos < 0 || w.freePos >= len(w.class.free) || w.class.free[w.freePos] != w {
			return fmt.Errorf("worker %s has a free slot but is not at its position %d of its class's free heap", w.name, w.freePos)
		}
		for _, wq := range w.queues {
			if wq.q.paused {
				continue
			}
			for _, typ := range w.types {
				if l := s.lanes[laneKey{queue: wq.q.name, typ: typ}]; l != nil && l.tasks.len() > 0 {
					return fmt.Errorf("worker %s has %d of %d slots busy while %d tasks of type %s wait in its queue %s",
						w.name, w.busy, w.slots, l.tasks.len(), typ, wq.q.name)
				}
			}
		}
	}
	return nil
}

// checkClassesLocked checks each class's worker count, free heap, pending
// counts and ready set.
func checkClassesLocked(s *Scheduler) error {
	members := map[*workerClass]int{}
	for _, w := range s.workers {
		members[w.class]++
	}
	for key, c := range s.classes {
		if c.key != key {
			return fmt.Errorf("class %q is stored under key %q", c.key, key)
		}
		if c.workers != members[c] || c.workers == 0 {
			return fmt.Errorf("class %q counts %d workers, %d are connected", key, c.workers, members[c])
		}
		for i, w := range c.free {
			if w.class != c || w.freePos != i || !w.available() {
				return fmt.Errorf("class %q: free heap entry %d is worker %s (class %q, position %d, available %t)",
					key, i, w.name, w.class.key, w.freePos, w.available())
			}
			if i > 0 && lessLoaded(w, c.free[(i-1)/2]) {
				return fmt.Errorf("class %q: free heap entry %d (worker %s) is less loaded than its parent", key, i, w.name)
			}
		}
		for i, q := range c.queues {
			nonEmpty := 0
			for _, l := range c.lanes[i] {
				if l.queue != q {
					return fmt.Errorf("class %q: lane %s/%s is listed under queue %s", key, l.queue.name, l.typ, q.name)
				}
				if l.tasks.len() > 0 {
					nonEmpty++
				}
				if !slices.Contains(l.classes, classRef{class: c, queue: i}) {
					return fmt.Errorf("class %q serves lane %s/%s, but the lane does not list it", key, q.name, l.typ)
				}
			}
			if c.pending[i] != nonEmpty {
				return fmt.Errorf("class %q: pending of queue %s = %d, want %d non-empty lanes", key, q.name, c.pending[i], nonEmpty)
			}
			ready := nonEmpty > 0 && !q.paused
			if got := c.ready.next(i) == i; got != ready {
				return fmt.Errorf("class %q: queue %s ready = %t, want %t (%d non-empty lanes, paused %t)",
					key, q.name, got, ready, nonEmpty, q.paused)
			}
		}
	}
	return nil
}

// checkLanesLocked checks that each lane lists only live classes that serve
// it, and that each queue counts the tasks of its lanes.
func checkLanesLocked(s *Scheduler) error {
	queued := map[*queueState]int{}
	for k, l := range s.lanes {
		queued[l.queue] += l.tasks.len()
		for i, t := range l.tasks.all(nil) {
			if t.lane != l || t.status != StatusQueued {
				return fmt.Errorf("lane %s/%s: entry %d is task %s (%s)", k.queue, k.typ, i, t.id, t.status)
			}
		}
		for _, ref := range l.classes {
			if s.classes[ref.class.key] != ref.class {
				return fmt.Errorf("lane %s/%s lists class %q, which has no worker left", k.queue, k.typ, ref.class.key)
			}
			if !slices.Contains(ref.class.lanes[ref.queue], l) {
				return fmt.Errorf("lane %s/%s lists class %q at queue %d, which does not serve it", k.queue, k.typ, ref.class.key, ref.queue)
			}
		}
	}
	for name, q := range s.queues {
		if q.queued != queued[q] {
			return fmt.Errorf("queue %s: queued = %d, its lanes hold %d tasks", name, q.queued, queued[q])
		}
	}
	return nil
}

// checkPickLocked compares w.pickLane with the reference pick on a copy of
// w's round-robin counters, and then the counters that each leaves.
func checkPickLocked(s *Scheduler, w *worker) error {
	counters := make([]int, len(w.queues))
	for i, wq := range w.queues {
		counters[i] = wq.current
	}
	want := referencePickLocked(s, w, counters)
	got := w.pickLane()
	if got != want {
		return fmt.Errorf("worker %s picks lane %s, want %s", w.name, laneName(got), laneName(want))
	}
	for i, wq := range w.queues {
		if wq.current != counters[i] {
			return fmt.Errorf("worker %s: counter of queue %s = %d after the pick, want %d", w.name, wq.q.name, wq.current, counters[i])
		}
	}
	return nil
}

// referencePickLocked picks the way the definition reads, by a scan of every
// queue and type of w: in strict order the first unpaused queue with a task,
// else smooth weighted round-robin over the unpaused queues with a task.
// Within the queue, the lane whose first task comes first wins.
func referencePickLocked(s *Scheduler, w *worker, counters []int) *lane {
	best, total := -1, 0
	var bestLane *lane
	for i, wq := range w.queues {
		if wq.q.paused {
			continue
		}
		var top *lane
		for _, typ := range w.types {
			l := s.lanes[laneKey{queue: wq.q.name, typ: typ}]
			if l != nil && l.tasks.len() > 0 && (top == nil || taskBefore(l.tasks.top(), top.tasks.top())) {
				top = l
			}
		}
		if top == nil {
			continue
		}
		if w.strict {
			return top
		}
		counters[i] += wq.weight
		total += wq.weight
		if best < 0 || counters[i] > counters[best] {
			best, bestLane = i, top
		}
	}
	if best >= 0 {
		counters[best] -= total
	}
	return bestLane
}

func laneName(l *lane) string {
	if l == nil {
		return "none"
	}
	return l.queue.name + "/" + l.typ
}

func TestBitsetNext(t *testing.T) {
	b := newBitset(200)
	for _, i := range []int{0, 5, 63, 64, 130, 199} {
		b.set(i, true)
	}
	b.set(5, false)
	want := []int{0, 63, 64, 130, 199}
	var got []int
	for i := b.next(0); i >= 0; i = b.next(i + 1) {
		got = append(got, i)
	}
	if !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
	if n := b.next(200); n != -1 {
		t.Errorf("next(200) = %d, want -1 past the end", n)
	}
}
