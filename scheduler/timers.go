package scheduler

import (
	"time"
)

// retentionCheck is how often final tasks past the retention time are removed.
const retentionCheck = time.Second

func (s *Scheduler) wakeTimersLocked() {
	select {
	case s.wakeTimers <- struct{}{}:
	default:
	}
}

// timerLoop queues due retries and scheduled tasks, requeues unclaimed orphans after the
// adoption grace time, and removes final tasks past their retention.
func (s *Scheduler) timerLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var due []*task
	for {
		select {
		case <-s.quit:
			return
		case <-timer.C:
		case <-s.wakeTimers:
		}

		now := time.Now()
		s.mu.Lock()
		due = s.retries.popDue(now, due[:0])
		for _, t := range due {
			if t.status == StatusRetrying {
				s.retrying--
			} else {
				s.scheduled--
			}
			t.status = StatusQueued
			t.edit().runAt = time.Time{}
			s.markDirtyLocked(t)
			s.dispatchLocked(t)
		}
		if !s.adoptBy.IsZero() && !now.Before(s.adoptBy) {
			s.requeueOrphansLocked()
		}
		s.expireLocked(now)
		next := now.Add(retentionCheck)
		if at, ok := s.retries.next(); ok && at.Before(next) {
			next = at
		}
		if !s.adoptBy.IsZero() && s.adoptBy.Before(next) {
			next = s.adoptBy
		}
		s.mu.Unlock()

		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

// requeueOrphansLocked queues again the attempts that were running before a
// restart and that no worker claimed. The lost attempt does not count
// against max_attempts: the master, not the task, went away.
func (s *Scheduler) requeueOrphansLocked() {
	requeued := 0
	for _, t := range s.orphans {
		if !t.orphan || t.status != StatusRunning || t.worker != nil {
			continue
		}
		t.orphan = false
		s.running--
		s.addWaitingLocked(t, 1)
		t.status = StatusQueued
		t.edit().errMsg = "attempt not claimed by any worker after master restart"
		s.markDirtyLocked(t)
		s.dispatchLocked(t)
		requeued++
	}
	s.orphans = nil
	s.adoptBy = time.Time{}
	s.log.Info("adoption grace time over", "requeued", requeued)
}

// finishedEntry is a place in the retention order. A task that was retried
// and ended again has a newer entry; the older one no longer matches its
// finish time and is skipped.
type finishedEntry struct {
	t     *task
	at    time.Time
	bytes int64 // output size when the entry was made
}

// finishedChunk is the number of entries in each array of a finishedQueue.
const finishedChunk = 1024

// finishedQueue holds the retention order as a list of fixed-size arrays,
// so that appending never copies the entries already held, however many
// tasks are kept.
type finishedQueue struct {
	chunks [][]finishedEntry // the first entry is chunks[0][head]
	head   int
	n      int
}

func (q *finishedQueue) len() int { return q.n }

func (q *finishedQueue) push(e finishedEntry) {
	last := len(q.chunks) - 1
	if last < 0 || len(q.chunks[last]) == finishedChunk {
		q.chunks = append(q.chunks, make([]finishedEntry, 0, finishedChunk))
		last++
	}
	q.chunks[last] = append(q.chunks[last], e)
	q.n++
}

// front returns the oldest entry; the queue must not be empty.
func (q *finishedQueue) front() finishedEntry { return q.chunks[0][q.head] }

// pop removes the oldest entry; the queue must not be empty.
func (q *finishedQueue) pop() {
	q.chunks[0][q.head] = finishedEntry{}
	q.head++
	q.n--
	if q.head < len(q.chunks[0]) {
		return
	}
	q.head = 0
	if len(q.chunks) == 1 {
		q.chunks[0] = q.chunks[0][:0]
		return
	}
	q.chunks[0] = nil
	q.chunks = q.chunks[1:]
}

// expireLocked forgets final tasks that ended more than ResultRetention ago.
func (s *Scheduler) expireLocked(now time.Time) {
	cutoff := now.Add(-s.cfg.ResultRetention)
	n, early := 0, 0
	for s.finished.len() > 0 {
		e := s.finished.front()
		t := e.t
		current := t.status.Final() && t.info().finished.Equal(e.at) && s.tasks[t.id] == t
		overBytes := s.resultBytes > s.cfg.MaxResultBytes
		if current && e.at.After(cutoff) && !overBytes {
			break
		}
		s.finished.pop()
		n++
		s.resultBytes -= e.bytes
		if current && e.at.After(cutoff) {
			early++
		}
		if !current {
			continue // retried since (a newer entry exists), or already gone
		}
		delete(s.tasks, t.id)
		if t.info().key != "" && s.keys[t.info().key] == t {
			delete(s.keys, t.info().key)
		}
		if s.persist {
			s.deletes = append(s.deletes, t.id)
		}
	}
	if early > 0 {
		s.log.Warn("finished tasks forgotten before result_retention because their outputs exceed max_result_bytes",
			"tasks", early, "max_result_bytes", s.cfg.MaxResultBytes)
	}
	if n > 0 {
		if s.persist && len(s.deletes) > 0 {
			select {
			case s.wakePersist <- struct{}{}:
			default:
			}
		}
	}
}
