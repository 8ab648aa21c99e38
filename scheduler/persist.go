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

// Backoff between persist rounds after a failed store write.
const (
	persistRetryMin = time.Second
	persistRetryMax = 30 * time.Second
)

func (s *Scheduler) persistLoop() {
	defer s.wg.Done()
	retry := time.NewTimer(0)
	retry.Stop()
	var delay time.Duration // > 0 while the store fails: rounds wait for retry
	for {
		if delay > 0 {
			select {
			case <-s.quit:
				return
			case <-retry.C:
			}
		} else {
			select {
			case <-s.quit:
				return
			case <-s.wakePersist:
			}
		}
		if err := s.persistRound(); err != nil {
			delay = min(max(2*delay, persistRetryMin), persistRetryMax)
			retry.Reset(delay)
		} else {
			delay = 0
		}
		select {
		case s.persistDone <- struct{}{}:
		default:
		}
	}
}

// flush writes every change made so far to the store and returns when it
// is stored, or the store's error. Changes that fail to be written stay
// pending, and the persist loop retries them.
func (s *Scheduler) flush() error {
	if err := s.persistRound(); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// persistRound writes every dirty task and every deletion. Rounds run one
// at a time, so a round that returns nil has stored every change made
// before it began. When the write fails, the tasks and deletions of the
// round are pending again for the next round.
func (s *Scheduler) persistRound() error {
	if !s.persist {
		return nil
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()

	s.mu.Lock()
	if len(s.dirty) == 0 && len(s.deletes) == 0 {
		s.mu.Unlock()
		return nil
	}
	tasks := s.dirty
	var b store.Batch
	b.Put = make([]*store.Record, 0, len(tasks))
	for _, t := range tasks {
		t.dirty = false
		if s.tasks[t.id] == t {
			b.Put = append(b.Put, t.record())
		}
	}
	b.Delete = s.deletes
	s.dirty = nil
	s.deletes = nil
	s.mu.Unlock()

	err := s.store.Write(b)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		for _, t := range tasks {
			if !t.dirty && s.tasks[t.id] == t {
				t.dirty = true
				s.dirty = append(s.dirty, t)
			}
		}
		s.deletes = append(b.Delete, s.deletes...)
		s.persistFailures++
		s.log.Error("store write of task changes failed; the changes stay in memory and the write is retried, "+
			"but a master restart before it succeeds loses them",
			"tasks", len(b.Put), "deletes", len(b.Delete), "failures_in_a_row", s.persistFailures, "err", err)
		return err
	}
	if s.persistFailures > 0 {
		s.log.Info("store write succeeded again", "failures_before", s.persistFailures,
			"tasks", len(b.Put), "deletes", len(b.Delete))
		s.persistFailures = 0
	}
	return nil
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
