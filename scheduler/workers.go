package scheduler

import (
	"fmt"
	"slices"
	"time"
)

// WorkerSpec describes a worker that connects.
type WorkerSpec struct {
	Name  string
	Addr  string
	Slots int
	Types []string
	// Queues are the queues the worker serves with their weights; empty
	// means DefaultQueue with weight 1.
	Queues []QueueWeight
	// StrictOrder serves Queues in list order: a slot takes from a later
	// queue only while every earlier one is empty or paused.
	StrictOrder bool
	Draining    bool
	Running     []AttemptRef // attempts the worker still runs, from an earlier connection
}

// WorkerHandle identifies one connection of a worker. A worker that
// reconnects gets a new handle; calls with an old handle do nothing.
type WorkerHandle struct {
	w *worker
}

// Name returns the worker's node name.
func (h *WorkerHandle) Name() string { return h.w.name }

// AddWorker registers a connected worker and adopts the attempts that it
// still runs where the task has no newer attempt. It returns the attempts
// that the worker must stop because they were written off, and fails when a
// worker of the same name is connected.
func (s *Scheduler) AddWorker(spec WorkerSpec, sender Sender) (*WorkerHandle, []AttemptRef, error) {
	if spec.Slots < 1 {
		return nil, nil, fmt.Errorf("invalid slot count %d from worker %s", spec.Slots, spec.Name)
	}
	queues, err := checkWorkerQueues(spec.Name, spec.Queues)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, nil, ErrStopped
	}
	if old := s.workers[spec.Name]; old != nil {
		return nil, nil, fmt.Errorf("%w: a worker named %q is already connected from %s; every node needs its own -node name", ErrConflict, spec.Name, old.addr)
	}

	w := &worker{
		name:     spec.Name,
		addr:     spec.Addr,
		slots:    spec.Slots,
		types:    slices.Clone(spec.Types),
		strict:   spec.StrictOrder,
		draining: spec.Draining,
		since:    time.Now(),
		sender:   sender,
		running:  make(map[string]*task),
	}
	for _, qw := range queues {
		w.queues = append(w.queues, workerQueue{q: s.queueLocked(qw.Name), weight: qw.Weight})
	}
	s.bindClassLocked(w)
	s.workers[w.name] = w

	var stale []AttemptRef
	for _, ref := range spec.Running {
		if !s.adoptLocked(w, ref) {
			stale = append(stale, ref)
		}
	}
	s.reindexLocked(w)
	s.fillLocked(w)
	return &WorkerHandle{w: w}, stale, nil
}

// adoptLocked makes w the runner of ref's task when ref is the task's
// current attempt (or newer, which a master that restarted may not have
// stored) and no other worker runs it.
func (s *Scheduler) adoptLocked(w *worker, ref AttemptRef) bool {
	t := s.tasks[ref.ID]
	if t == nil || t.pending || t.status.Final() || ref.Attempt < t.attempt {
		return false
	}
	if t.worker != nil || t.status == StatusScheduled {
		return false
	}

	switch t.status {
	case StatusRunning: // orphan from before a restart
		s.dropOrphanLocked(t)
	case StatusQueued, StatusRetrying:
		if t.info().lostFrom == w.name {
			t.failures-- // the loss that requeued it was only a broken connection
		}
		s.leaveWaitingLocked(t)
		s.running++
	}
	t.status = StatusRunning
	t.attempt = ref.Attempt
	t.worker = w
	t.edit().workerName = w.name
	t.edit().lostFrom = ""
	if t.info().started.IsZero() {
		t.edit().started = time.Now()
	}
	w.running[t.id] = t
	w.busy++
	s.markDirtyLocked(t)
	s.log.Info("running attempt adopted", "task_id", t.id, "attempt", t.attempt, "worker", w.name)
	return true
}

// RemoveWorker unregisters a worker whose connection ended or whose node
// failed. Each attempt it ran counts as a failed attempt and its task goes
// back to the queue at once, or ends failed when no attempt is left.
func (s *Scheduler) RemoveWorker(h *WorkerHandle, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := h.w
	if w.removed {
		return
	}
	w.removed = true
	s.reindexLocked(w)
	s.unbindClassLocked(w)
	delete(s.workers, w.name)

	lost := 0
	for _, t := range w.running {
		if t.worker != w || t.status != StatusRunning {
			continue // canceled while running: already final
		}
		lost++
		t.edit().lostFrom = w.name
		s.attemptFailedLocked(t, lostMessage(w.name, reason), true, false)
	}
	w.running = nil
	s.log.Info("worker removed", "worker", w.name, "reason", reason, "requeued", lost)
}

// Complete records a worker's result. A result for an attempt that is not
// the task's current attempt on this worker is dropped and counted.
func (s *Scheduler) Complete(h *WorkerHandle, r Result) {
	s.CompleteBatch(h, []Result{r})
}

// CompleteBatch applies results of one worker in order, as Complete does
// for each, and then refills the worker's free slots once. A connection
// that reads several results at once saves a lock round and a move in
// the free-worker index per result.
func (s *Scheduler) CompleteBatch(h *WorkerHandle, rs []Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := h.w
	if w.removed {
		for _, r := range rs {
			s.staleLocked(w.name, r, "worker connection already closed")
		}
		return
	}
	freed := false
	for _, r := range rs {
		t := w.running[r.ID]
		if t == nil || t.attempt != r.Attempt {
			s.staleLocked(w.name, r, "attempt is not running on this worker")
			continue
		}
		delete(w.running, r.ID)
		w.busy--
		w.completed++
		freed = true

		if t.worker == w && t.status == StatusRunning {
			s.applyResultLocked(t, r)
		}
	}
	if freed {
		s.reindexLocked(w)
		s.fillLocked(w)
	}
}

func (s *Scheduler) applyResultLocked(t *task, r Result) {
	switch {
	case r.OK:
		s.running--
		t.edit().output = r.Output
		t.edit().errMsg = ""
		s.finishLocked(t, StatusSucceeded)
	case r.HandedBack:
		s.log.Info("attempt handed back", "task_id", t.id, "attempt", t.attempt, "worker", t.info().workerName, "reason", r.Error)
		s.attemptFailedLocked(t, r.Error, false, false)
	default:
		s.log.Info("attempt failed", "task_id", t.id, "attempt", t.attempt, "worker", t.info().workerName, "err", r.Error)
		s.attemptFailedLocked(t, r.Error, true, true)
	}
}

func (s *Scheduler) staleLocked(worker string, r Result, why string) {
	s.stats.StaleResults++
	s.log.Info("stale result dropped", "task_id", r.ID, "attempt", r.Attempt, "worker", worker, "reason", why)
}

// SetDraining marks a worker as draining: it gets no new attempts.
func (s *Scheduler) SetDraining(h *WorkerHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.w.removed || h.w.draining {
		return
	}
	h.w.draining = true
	s.reindexLocked(h.w)
	s.log.Info("worker draining", "worker", h.w.name)
}

// UpdateWorker changes a worker's slot count and task types.
func (s *Scheduler) UpdateWorker(h *WorkerHandle, slots int, types []string) error {
	if slots < 1 {
		return fmt.Errorf("invalid slot count %d from worker %s", slots, h.w.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := h.w
	if w.removed {
		return nil
	}
	w.removed = true // take it out of the free heap of its old class
	s.reindexLocked(w)
	w.removed = false
	s.unbindClassLocked(w)
	w.slots = slots
	w.types = slices.Clone(types)
	s.bindClassLocked(w)
	s.reindexLocked(w)
	s.fillLocked(w)
	return nil
}

// WorkerRunning returns the attempts that the scheduler believes run on the
// worker.
func (s *Scheduler) WorkerRunning(h *WorkerHandle) []AttemptRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AttemptRef, 0, len(h.w.running))
	for _, t := range h.w.running {
		out = append(out, AttemptRef{ID: t.id, Attempt: t.attempt})
	}
	return out
}
