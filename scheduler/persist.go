package scheduler

import (
	"fmt"
	"slices"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// markDirtyLocked queues t to be written to the store. Changes after submit
// are written in the background, many tasks per write: a crash can lose the
// last few state changes, never a submitted task.
func (s *Scheduler) markDirtyLocked(t *task) {
	if !s.persist || t.dirty || t.pending {
		return
	}
	t.dirty = true
	s.dirty = append(s.dirty, t)
	select {
	case s.wakePersist <- struct{}{}:
	default:
	}
}

func (s *Scheduler) persistLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.wakePersist:
		}
		s.persistRound()
		select {
		case s.persistDone <- struct{}{}:
		default:
		}
	}
}

// persistRound writes every dirty task and every deletion.
func (s *Scheduler) persistRound() {
	if !s.persist {
		return
	}
	s.mu.Lock()
	if len(s.dirty) == 0 && len(s.deletes) == 0 {
		s.mu.Unlock()
		return
	}
	var b store.Batch
	b.Put = make([]*store.Record, 0, len(s.dirty))
	for _, t := range s.dirty {
		t.dirty = false
		if s.tasks[t.id] == t {
			b.Put = append(b.Put, t.record())
		}
	}
	b.Delete = s.deletes
	s.dirty = s.dirty[:0]
	s.deletes = nil
	s.mu.Unlock()

	if err := s.store.Write(b); err != nil {
		// The tasks stay correct in memory; only a restart before the next
		// successful write would see their older state.
		s.log.Error("store write of task changes failed", "tasks", len(b.Put), "deletes", len(b.Delete), "err", err)
	}
}

// load reads every stored task. Final tasks keep their place in the
// retention order; queued tasks go back to their lanes; scheduled and
// retrying ones wait for their run time; running ones wait for adoption.
func (s *Scheduler) load() error {
	var final []*task
	now := time.Now()
	err := s.store.Load(func(r *store.Record) error {
		t := taskFromRecord(r)
		if _, dup := s.tasks[t.id]; dup {
			return fmt.Errorf("store has task %s twice", t.id)
		}
		s.tasks[t.id] = t
		if t.info().key != "" {
			s.keys[t.info().key] = t
		}
		s.seq = max(s.seq, t.seq)

		switch t.status {
		case StatusQueued:
			s.addWaitingLocked(t, 1)
			s.enqueueLocked(t)
		case StatusRetrying, StatusScheduled:
			s.addWaitingLocked(t, 1)
			if t.status == StatusRetrying {
				s.retrying++
			} else {
				s.scheduled++
			}
			s.retries.push(t)
		case StatusRunning:
			t.orphan = true
			s.orphans = append(s.orphans, t)
			s.running++
		case StatusSucceeded, StatusFailed, StatusCanceled:
			final = append(final, t)
		default:
			return fmt.Errorf("store has task %s in unknown state %q", t.id, t.status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load tasks: %w", err)
	}

	slices.SortFunc(final, func(a, b *task) int { return a.info().finished.Compare(b.info().finished) })
	for _, t := range final {
		s.finished.push(finishedEntry{t: t, at: t.info().finished, bytes: int64(len(t.info().output))})
		s.resultBytes += int64(len(t.info().output))
	}
	if len(s.orphans) > 0 {
		s.adoptBy = now.Add(s.cfg.AdoptGrace)
	}
	if len(s.tasks) > 0 {
		s.log.Info("tasks loaded from store", "tasks", len(s.tasks), "waiting", s.waiting,
			"running_unclaimed", len(s.orphans), "adopt_grace", s.cfg.AdoptGrace)
	}
	return nil
}

// loadQueueStates pauses the queues that were paused when the store was
// last written.
func (s *Scheduler) loadQueueStates() error {
	states, err := s.store.LoadQueues()
	if err != nil {
		return err
	}
	var paused []string
	for _, st := range states {
		if err := checkName(st.Name); err != nil {
			return fmt.Errorf("store has a state of an invalid queue name: %w: the store is damaged: restore it from a backup or move the data directory away", err)
		}
		if st.Paused {
			s.queueLocked(st.Name).paused = true
			paused = append(paused, st.Name)
		}
	}
	if len(paused) > 0 {
		s.log.Info("queues paused before the restart stay paused", "queues", paused)
	}
	return nil
}

// dropOrphanLocked ends t's wait for adoption.
func (s *Scheduler) dropOrphanLocked(t *task) {
	t.orphan = false
}
