package scheduler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lbd-dev/lbd/store"
)

// DefaultQueue is the queue of a task that names none, and the only queue
// of a worker that lists none.
const DefaultQueue = "default"

// MaxQueueWeight is the largest weight a worker may give a queue.
const MaxQueueWeight = 1000

// QueueWeight is one queue that a worker serves and its share of the
// worker's free slots relative to the worker's other queues.
type QueueWeight struct {
	Name   string
	Weight int
}

// QueueLimits caps the waiting (queued, scheduled and retrying) tasks of one
// queue. Zero fields leave only the global limits.
type QueueLimits struct {
	MaxQueuedTasks int
	MaxQueuedBytes int64
}

// Queue is a snapshot of one queue.
type Queue struct {
	Name    string
	Paused  bool
	Queued  int   // tasks waiting for a slot
	Delayed int   // scheduled or retrying tasks whose run time has not come
	Running int   // attempts running on workers
	Bytes   int64 // payload bytes of queued, scheduled and retrying tasks
	Limits  QueueLimits
}

// queueState is one named queue. Guarded by Scheduler.mu.
type queueState struct {
	name         string
	paused       bool
	lanes        []*lane // one per task type submitted to or served in this queue
	queued       int     // tasks in the lanes
	waiting      int     // queued, scheduled and retrying tasks
	waitingBytes int64   // their payload bytes
	limits       QueueLimits
}

// queueLocked returns the queue of the given name, created on first use.
// NOTE: queues are never removed, so every distinct name that a submit or a
// worker used keeps a few hundred bytes until the master restarts.
func (s *Scheduler) queueLocked(name string) *queueState {
	q := s.queues[name]
	if q == nil {
		q = &queueState{name: name, limits: s.cfg.Queues[name]}
		s.queues[name] = q
	}
	return q
}

// checkWorkerQueues validates the queues of a worker and returns them, or
// the default queue when the list is empty.
func checkWorkerQueues(worker string, qs []QueueWeight) ([]QueueWeight, error) {
	if len(qs) == 0 {
		return []QueueWeight{{Name: DefaultQueue, Weight: 1}}, nil
	}
	seen := make(map[string]bool, len(qs))
	for _, qw := range qs {
		if err := checkName(qw.Name); err != nil {
			return nil, fmt.Errorf("invalid queue name from worker %s: %w", worker, err)
		}
		if seen[qw.Name] {
			return nil, fmt.Errorf("worker %s lists queue %q twice", worker, qw.Name)
		}
		seen[qw.Name] = true
		if qw.Weight < 1 || qw.Weight > MaxQueueWeight {
			return nil, fmt.Errorf("invalid weight %d of queue %q from worker %s: must be 1..%d",
				qw.Weight, qw.Name, worker, MaxQueueWeight)
		}
	}
	return slices.Clone(qs), nil
}

// queueNotFoundError reports a queue name that the scheduler does not
// know. It matches ErrNotFound.
type queueNotFoundError struct{ name string }

func (e *queueNotFoundError) Error() string {
	return fmt.Sprintf("queue %q not found: no task, worker, queue block or pause names it; check the name with lbd queues", e.name)
}

func (e *queueNotFoundError) Is(target error) bool { return target == ErrNotFound }

// enqueueLocked puts a queued task into its lane.
func (s *Scheduler) enqueueLocked(t *task) *lane {
	l := s.laneLocked(t.queue, t.typ)
	l.tasks.push(t)
	t.lane = l
	l.queue.queued++
	if l.tasks.len() == 1 {
		l.countPending(1)
	}
	return l
}

// unqueueLocked takes t out of its lane, if it is in one.
func (s *Scheduler) unqueueLocked(t *task) {
	l := t.lane
	if l == nil {
		return
	}
	l.tasks.remove(t)
	t.lane = nil
	l.queue.queued--
	if l.tasks.len() == 0 {
		l.countPending(-1)
	}
}

// addWaitingLocked counts t into (sign 1) or out of (sign -1) the waiting
// tasks, globally and in its queue.
func (s *Scheduler) addWaitingLocked(t *task, sign int) {
	bytes := int64(sign) * int64(len(t.payload))
	s.waiting += sign
	s.waitingBytes += bytes
	q := s.queueLocked(t.queue)
	q.waiting += sign
	q.waitingBytes += bytes
}

// Pause stops handing out the tasks of a queue. Running attempts go on, and
// submits to the queue are still accepted. A queue that does not exist yet
// is created paused. The pause lasts until Resume. With a durable store it
// is stored before Pause returns and survives a master restart. With the
// in-memory store a restart ends it.
func (s *Scheduler) Pause(name string) error {
	if err := checkName(name); err != nil {
		return &InvalidError{Index: -1, Field: "queue", Reason: err.Error()}
	}
	s.queueStateMu.Lock()
	defer s.queueStateMu.Unlock()
	if s.isPaused(name) {
		return nil
	}
	if err := s.storeQueueState(name, true); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueLocked(name)
	q.paused = true
	s.refreshQueueLocked(q)
	s.log.Info("queue paused", "queue", name, "queued", q.queued)
	return nil
}

// Resume hands out the tasks of a paused queue again. Resuming a queue that
// is not paused does nothing; a queue that the scheduler does not know is
// ErrNotFound, which catches a mistyped name.
func (s *Scheduler) Resume(name string) error {
	if err := checkName(name); err != nil {
		return &InvalidError{Index: -1, Field: "queue", Reason: err.Error()}
	}
	s.queueStateMu.Lock()
	defer s.queueStateMu.Unlock()
	if !s.isPaused(name) {
		s.mu.Lock()
		_, known := s.queues[name]
		s.mu.Unlock()
		if !known && name != DefaultQueue {
			return &queueNotFoundError{name: name}
		}
		return nil
	}
	if err := s.storeQueueState(name, false); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueLocked(name)
	q.paused = false
	s.refreshQueueLocked(q)
	s.log.Info("queue resumed", "queue", name, "queued", q.queued)
	for _, l := range q.lanes {
		for l.tasks.len() > 0 {
			w := l.freeWorker()
			if w == nil {
				break
			}
			busy := w.busy
			s.fillLocked(w)
			if w.busy == busy {
				break // guard against a loop: a free worker with tasks in this lane always takes one
			}
		}
	}
	return nil
}

// isPaused reports whether the named queue is paused. The caller holds
// queueStateMu, so no other Pause or Resume changes the result before the
// caller acts on it.
func (s *Scheduler) isPaused(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	return q != nil && q.paused
}

// storeQueueState writes a queue's pause to a durable store and returns once
// it is durable. Pause and Resume call it before they change the queue, so
// a failed write leaves the queue as it was.
func (s *Scheduler) storeQueueState(name string, paused bool) error {
	if !s.persist {
		return nil
	}
	err := s.store.Write(store.Batch{Queues: []store.QueueState{{Name: name, Paused: paused}}})
	if err != nil {
		action := "resume"
		if paused {
			action = "pause"
		}
		s.log.Error("store write of queue state failed; queue left as it was", "queue", name, "paused", paused, "err", err)
		return fmt.Errorf("%w: %s of queue %s not applied: %w", ErrStore, action, name, err)
	}
	return nil
}

// Purge cancels every queued, scheduled and retrying task of a queue and
// returns how many it canceled. Running attempts are left alone. It returns
// once the change is stored. When the store write fails, the error wraps
// ErrStore and the tasks stay canceled in memory.
func (s *Scheduler) Purge(name string) (int, error) {
	n, err := s.purge(name)
	if err != nil || n == 0 {
		return n, err
	}
	if err := s.flush(); err != nil {
		return n, fmt.Errorf("%d tasks of queue %s are canceled, but storing that failed, so a master restart before the retried write succeeds would queue them again: %w", n, name, err)
	}
	return n, nil
}

func (s *Scheduler) purge(name string) (int, error) {
	if err := checkName(name); err != nil {
		return 0, &InvalidError{Index: -1, Field: "queue", Reason: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return 0, nil
	}

	var victims []*task
	for _, l := range q.lanes {
		victims = l.tasks.all(victims)
	}
	for _, e := range s.retries {
		if e.valid() && e.t.queue == name {
			victims = append(victims, e.t)
		}
	}
	for _, t := range victims {
		if t.status.Final() {
			continue // a second heap entry of a task already purged
		}
		s.leaveWaitingLocked(t)
		t.edit().errMsg = "purged from queue " + name
		s.finishLocked(t, StatusCanceled)
	}
	s.log.Info("queue purged", "queue", name, "canceled", len(victims))
	return len(victims), nil
}

// Queues returns a snapshot of every queue the scheduler tracks (configured,
// submitted to, served by a worker or paused), sorted by name.
func (s *Scheduler) Queues() []Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	running := make(map[string]int)
	for _, w := range s.workers {
		for _, t := range w.running {
			if t.worker == w && t.status == StatusRunning {
				running[t.queue]++
			}
		}
	}
	for _, t := range s.orphans {
		if t.orphan && t.status == StatusRunning {
			running[t.queue]++
		}
	}

	out := make([]Queue, 0, len(s.queues))
	for _, q := range s.queues {
		out = append(out, Queue{
			Name:    q.name,
			Paused:  q.paused,
			Queued:  q.queued,
			Delayed: q.waiting - q.queued,
			Running: running[q.name],
			Bytes:   q.waitingBytes,
			Limits:  q.limits,
		})
	}
	slices.SortFunc(out, func(a, b Queue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// queueDemand is the task count and payload bytes that a batch adds to one
// queue.
type queueDemand struct {
	tasks int
	bytes int64
}

// checkQueueLimitsLocked checks that the queue can take the given number of
// tasks with the given payload bytes in total without passing its limits.
func (s *Scheduler) checkQueueLimitsLocked(name string, tasks int, bytes int64) error {
	q := s.queues[name]
	if q == nil {
		return nil // no task and no limit yet
	}
	if l := q.limits.MaxQueuedTasks; l > 0 && q.waiting+tasks > l {
		return &LimitError{Setting: "max_queued_tasks", Limit: int64(l), Value: int64(q.waiting + tasks),
			Queue: name, kind: ErrQueueFull}
	}
	if l := q.limits.MaxQueuedBytes; l > 0 && q.waitingBytes+bytes > l {
		return &LimitError{Setting: "max_queued_bytes", Limit: l, Value: q.waitingBytes + bytes,
			Queue: name, kind: ErrQueueFull}
	}
	return nil
}

func (w *worker) queueWeights() []QueueWeight {
	out := make([]QueueWeight, len(w.queues))
	for i, wq := range w.queues {
		out[i] = QueueWeight{Name: wq.q.name, Weight: wq.weight}
	}
	return out
}
