package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// Scheduler is the master's task queue. Its methods are safe for concurrent
// use. Lock order: Scheduler.mu, then any Sender's own lock.
type Scheduler struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	persist bool // false for an in-memory store: nothing is written

	// queueStateMu serializes Pause and Resume, so that the store gets the
	// pauses of a queue in the order the scheduler applies them. Lock order:
	// queueStateMu, then mu.
	queueStateMu sync.Mutex
	// persistMu is held by the persist round that writes to the store.
	// Lock order: persistMu, then mu.
	persistMu sync.Mutex

	mu              sync.Mutex
	tasks           map[string]*task
	keys            map[string]*task // idempotency key -> task
	types           map[string]*typeState
	queues          map[string]*queueState
	lanes           map[laneKey]*lane
	classes         map[string]*workerClass // by classKey
	workers         map[string]*worker
	seq             uint64 // last task sequence number handed out
	assignSeq       uint64
	waiting         int   // queued, scheduled and retrying tasks, the queue limit's count
	waitingBytes    int64 // their payload bytes
	retrying        int
	scheduled       int
	running         int
	retries         retryHeap
	finished        finishedQueue // final tasks in the order they ended, for retention
	resultBytes     int64         // output bytes of the entries in finished
	orphans         []*task       // running before a restart, not yet claimed
	adoptBy         time.Time
	dirty           []*task
	deletes         []string
	persistFailures int // failed store writes in a row
	stats           Stats
	stopped         bool

	wakeTimers  chan struct{}
	wakePersist chan struct{}
	persistDone chan struct{} // a token after each persist round
	quit        chan struct{}
	wg          sync.WaitGroup
}

// New creates a scheduler and loads every task from cfg.Store. Tasks that
// were running when the store was last written wait cfg.AdoptGrace for a
// worker to claim them, then go back to the queue.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	_, memory := cfg.Store.(*store.Memory)
	s := &Scheduler{
		cfg:         cfg,
		log:         cfg.Logger,
		store:       cfg.Store,
		persist:     !memory,
		tasks:       make(map[string]*task),
		keys:        make(map[string]*task),
		types:       make(map[string]*typeState),
		queues:      make(map[string]*queueState),
		lanes:       make(map[laneKey]*lane),
		classes:     make(map[string]*workerClass),
		workers:     make(map[string]*worker),
		wakeTimers:  make(chan struct{}, 1),
		wakePersist: make(chan struct{}, 1),
		persistDone: make(chan struct{}, 1),
		quit:        make(chan struct{}),
	}
	for name := range cfg.Queues {
		s.queueLocked(name)
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.loadQueueStates(); err != nil {
		return nil, err
	}
	s.seq = max(s.seq, uint64(time.Now().UnixNano()))

	s.wg.Add(2)
	go s.timerLoop()
	go s.persistLoop()
	return s, nil
}

func (c *Config) check() error {
	if c.Store == nil {
		return fmt.Errorf("scheduler: no store configured")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.MaxAttempts < 1 {
		return fmt.Errorf("invalid max_attempts %d: must be at least 1", c.MaxAttempts)
	}
	if c.TaskTimeout <= 0 {
		return fmt.Errorf("invalid task_timeout %s: must be positive", c.TaskTimeout)
	}
	if c.MaxQueuedTasks < 1 || c.MaxQueuedBytes < 1 || c.MaxPayloadBytes < 1 {
		return fmt.Errorf("invalid queue limits: max_queued_tasks, max_queued_bytes and max_payload_bytes must be positive")
	}

	for name, l := range c.Queues {
		if err := checkName(name); err != nil {
			return fmt.Errorf("invalid queue name in queue limits: %w", err)
		}
		if l.MaxQueuedTasks < 0 || l.MaxQueuedBytes < 0 {
			return fmt.Errorf("invalid limits of queue %q: max_queued_tasks and max_queued_bytes must not be negative", name)
		}
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = time.Second
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		c.RetryBackoffMax = c.RetryBackoff
	}
	if c.ResultRetention <= 0 {
		c.ResultRetention = 24 * time.Hour
	}
	if c.MaxResultBytes <= 0 {
		c.MaxResultBytes = 1 << 30
	}
	return nil
}

// Stop rejects further submits, writes every pending change to the store and
// stops the scheduler's goroutines. It does not close the store. Safe to call
// twice.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()

	close(s.quit)
	s.wg.Wait()
	s.persistRound() // what changed after the persist loop's last round
}

// Submit validates and stores specs and queues them, all or none. It returns
// the ids in the order of specs. A spec whose Key was already submitted
// within the retention time returns that task's id and adds nothing.
func (s *Scheduler) Submit(specs []Spec) ([]string, error) {
	if len(specs) == 0 {
		return nil, &InvalidError{Index: -1, Field: "tasks", Reason: "no task given"}
	}
	for i := range specs {
		if err := s.validate(&specs[i], i, len(specs)); err != nil {
			return nil, err
		}
	}

	ids, fresh, err := s.reserve(specs)
	if err != nil || len(fresh) == 0 {
		return ids, err
	}

	if s.persist {
		recs := make([]*store.Record, len(fresh))
		for i, t := range fresh {
			recs[i] = t.record()
		}
		if err := s.store.Write(store.Batch{Put: recs}); err != nil {
			s.unreserve(fresh)
			s.log.Error("store write failed; submit rejected", "tasks", len(fresh), "err", err)
			return nil, fmt.Errorf("%w: %w", ErrStore, err)
		}
	}

	s.mu.Lock()
	for _, t := range fresh {
		t.pending = false
		s.observerLocked(t.typ).Submitted()
		switch t.status {
		case StatusQueued:
			s.dispatchLocked(t)
		case StatusScheduled:
			s.scheduled++
			s.retries.push(t)
			s.wakeTimersLocked()
		}
	}
	s.mu.Unlock()
	return ids, nil
}

func (s *Scheduler) validate(sp *Spec, i, n int) error {
	index := i
	if n == 1 {
		index = -1
	}
	invalid := func(field, reason string) error {
		return &InvalidError{Index: index, Field: field, Reason: reason}
	}
	if err := checkName(sp.Type); err != nil {
		return invalid("type", err.Error())
	}
	if int64(len(sp.Payload)) > s.cfg.MaxPayloadBytes {
		return &LimitError{Setting: "max_payload_bytes", Limit: s.cfg.MaxPayloadBytes, Value: int64(len(sp.Payload)), kind: ErrPayloadTooLarge}
	}
	if sp.Timeout < 0 {
		return invalid("timeout", fmt.Sprintf("%s is negative", sp.Timeout))
	}
	if sp.MaxAttempts < 0 || sp.MaxAttempts > 1000 {
		return invalid("max_attempts", fmt.Sprintf("%d is out of range 1..1000 (0 means the default)", sp.MaxAttempts))
	}
	if len(sp.Key) > 256 {
		return invalid("key", fmt.Sprintf("%d bytes is longer than 256", len(sp.Key)))
	}
	return validatePlacement(sp, invalid)
}

// checkName checks a task type: 1 to 64 characters of letters, digits, '_',
// '-' and '.'.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("missing")
	}
	if len(name) > 64 {
		return fmt.Errorf("%q is longer than 64 characters", name[:64]+"...")
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("%q has %q: use letters, digits, '_', '-' and '.'", name, c)
		}
	}
	return nil
}

// reserve checks the limits and creates the tasks, invisible to dispatch
// until Submit stored them.
func (s *Scheduler) reserve(specs []Spec) (ids []string, fresh []*task, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, nil, ErrStopped
	}

	ids = make([]string, len(specs))
	firstWithKey := map[string]int{} // key -> first index in this batch
	var bytes int64
	count := 0
	var perQueue map[string]*queueDemand // only with per-queue limits
	for i := range specs {
		if k := specs[i].Key; k != "" {
			if t := s.keys[k]; t != nil {
				if t.pending {
					return nil, nil, fmt.Errorf("%w: a task with key %q is being stored by another request; retry in a moment", ErrConflict, k)
				}
				ids[i] = t.id
				continue
			}
			if _, dup := firstWithKey[k]; dup {
				continue
			}
			firstWithKey[k] = i
		}
		count++
		bytes += int64(len(specs[i].Payload))
		if len(s.cfg.Queues) > 0 {
			if perQueue == nil {
				perQueue = map[string]*queueDemand{}
			}
			d := perQueue[specs[i].Queue]
			if d == nil {
				d = &queueDemand{}
				perQueue[specs[i].Queue] = d
			}
			d.tasks++
			d.bytes += int64(len(specs[i].Payload))
		}
	}
	if s.waiting+count > s.cfg.MaxQueuedTasks {
		return nil, nil, &LimitError{Setting: "max_queued_tasks", Limit: int64(s.cfg.MaxQueuedTasks), Value: int64(s.waiting + count), kind: ErrQueueFull}
	}
	if s.waitingBytes+bytes > s.cfg.MaxQueuedBytes {
		return nil, nil, &LimitError{Setting: "max_queued_bytes", Limit: s.cfg.MaxQueuedBytes, Value: s.waitingBytes + bytes, kind: ErrQueueFull}
	}
	for name, d := range perQueue {
		if err := s.checkQueueLimitsLocked(name, d.tasks, d.bytes); err != nil {
			return nil, nil, err
		}
	}

	now := time.Now()
	fresh = make([]*task, 0, count)
	for i := range specs {
		k := specs[i].Key
		if ids[i] != "" || (k != "" && firstWithKey[k] != i) {
			continue
		}
		t := s.newTaskLocked(&specs[i], now)
		ids[i] = t.id
		fresh = append(fresh, t)
	}
	for i := range specs {
		if ids[i] == "" {
			ids[i] = ids[firstWithKey[specs[i].Key]]
		}
	}
	return ids, fresh, nil
}

func (s *Scheduler) newTaskLocked(sp *Spec, now time.Time) *task {
	s.seq++
	def := s.cfg.Types[sp.Type]
	timeout := firstPositive(sp.Timeout, def.Timeout, s.cfg.TaskTimeout)
	attempts := firstPositive(sp.MaxAttempts, def.MaxAttempts, s.cfg.MaxAttempts)
	t := &task{
		id:          formatID(s.seq),
		seq:         s.seq,
		typ:         s.typeLocked(sp.Type).name,
		queue:       s.queueLocked(sp.Queue).name,
		priority:    sp.Priority,
		payload:     sp.Payload,
		status:      StatusQueued,
		maxAttempts: uint32(attempts),
		timeout:     timeout,
		created:     now,
		pending:     true,
	}
	if sp.Key != "" {
		t.edit().key = sp.Key
	}
	if sp.RunAt.After(now) {
		t.status = StatusScheduled
		t.edit().runAt = sp.RunAt
	}
	s.tasks[t.id] = t
	if t.info().key != "" {
		s.keys[t.info().key] = t
	}
	s.addWaitingLocked(t, 1)
	s.stats.Submitted++
	return t
}

func (s *Scheduler) unreserve(fresh []*task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range fresh {
		delete(s.tasks, t.id)
		if t.info().key != "" && s.keys[t.info().key] == t {
			delete(s.keys, t.info().key)
		}
		if !t.status.Final() {
			s.addWaitingLocked(t, -1)
		}
		t.status = StatusCanceled
		s.stats.Submitted--
	}
}

func firstPositive[T int | time.Duration](vs ...T) T {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// Get returns a snapshot of the task with the given id.
func (s *Scheduler) Get(id string) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil || t.pending {
		return Task{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return t.snapshot(), nil
}

// Wait blocks until the task is final or ctx ends, and returns its snapshot
// then. It returns an error only for an unknown id.
func (s *Scheduler) Wait(ctx context.Context, id string) (Task, error) {
	s.mu.Lock()
	t := s.tasks[id]
	if t == nil || t.pending {
		s.mu.Unlock()
		return Task{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if t.status.Final() {
		snap := t.snapshot()
		s.mu.Unlock()
		return snap, nil
	}
	if t.info().done == nil {
		t.edit().done = make(chan struct{})
	}
	done := t.info().done
	s.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
	case <-s.quit:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return t.snapshot(), nil
}

// Cancel cancels a task that is not final. A running attempt is asked to
// stop; its worker's slot stays busy until the worker reports the attempt.
// Cancel returns once the change is stored. When the store write fails,
// the task stays canceled in memory and the error wraps ErrStore.
func (s *Scheduler) Cancel(id string) (Task, error) {
	t, err := s.cancel(id)
	if err != nil {
		return t, err
	}
	if err := s.flush(); err != nil {
		return t, fmt.Errorf("task %s is canceled, but storing that failed, so a master restart before the retried write succeeds would queue it again: %w", id, err)
	}
	return t, nil
}

func (s *Scheduler) cancel(id string) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil || t.pending {
		return Task{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if t.status.Final() {
		return t.snapshot(), fmt.Errorf("%w: task %s is already %s", ErrConflict, id, t.status)
	}

	switch t.status {
	case StatusQueued, StatusRetrying:
		s.leaveWaitingLocked(t)
	case StatusRunning:
		if t.worker != nil {
			t.worker.sender.Cancel(t.id, t.attempt)
		}
		s.running--
		s.dropOrphanLocked(t)
	}
	t.edit().errMsg = "canceled"
	s.finishLocked(t, StatusCanceled)
	s.log.Info("task canceled", "task_id", id)
	return t.snapshot(), nil
}

// Retry requeues a failed task with fresh attempts. It returns once the
// change is stored. When the store write fails, the error wraps ErrStore
// and the task stays queued in memory.
func (s *Scheduler) Retry(id string) (Task, error) {
	t, err := s.retry(id)
	if err != nil {
		return t, err
	}
	if err := s.flush(); err != nil {
		return t, fmt.Errorf("task %s is queued again, but storing that failed, so a master restart before the retried write succeeds would show it failed: %w", id, err)
	}
	return t, nil
}

func (s *Scheduler) retry(id string) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil || t.pending {
		return Task{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if t.status != StatusFailed {
		return t.snapshot(), fmt.Errorf("%w: task %s is %s; only failed tasks can be retried", ErrConflict, id, t.status)
	}
	if s.waiting+1 > s.cfg.MaxQueuedTasks {
		return t.snapshot(), &LimitError{Setting: "max_queued_tasks", Limit: int64(s.cfg.MaxQueuedTasks), Value: int64(s.waiting + 1), kind: ErrQueueFull}
	}
	if bytes := s.waitingBytes + int64(len(t.payload)); bytes > s.cfg.MaxQueuedBytes {
		return t.snapshot(), &LimitError{Setting: "max_queued_bytes", Limit: s.cfg.MaxQueuedBytes, Value: bytes, kind: ErrQueueFull}
	}
	if err := s.checkQueueLimitsLocked(t.queue, 1, int64(len(t.payload))); err != nil {
		return t.snapshot(), err
	}

	t.failures = 0
	t.edit().finished = time.Time{}
	t.status = StatusQueued
	t.edit().done = nil
	s.addWaitingLocked(t, 1)
	s.markDirtyLocked(t)
	s.dispatchLocked(t)
	s.log.Info("task retried by request", "task_id", id)
	return t.snapshot(), nil
}

// Workers returns a snapshot of the connected workers.
func (s *Scheduler) Workers() []Worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Worker, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, Worker{
			Name:      w.name,
			Addr:      w.addr,
			Slots:     w.slots,
			Busy:      w.busy,
			Types:     append([]string(nil), w.types...),
			Queues:    w.queueWeights(),
			Strict:    w.strict,
			Draining:  w.draining,
			Since:     w.since,
			Completed: w.completed,
		})
	}
	return out
}

// Stats returns the scheduler's counters and gauges.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = s.waiting - s.retrying - s.scheduled
	st.Scheduled = s.scheduled
	st.QueuedBytes = s.waitingBytes
	st.Retrying = s.retrying
	st.Running = s.running
	st.Workers = len(s.workers)
	for _, w := range s.workers {
		st.Slots += w.slots
		st.BusySlots += w.busy
	}
	return st
}
