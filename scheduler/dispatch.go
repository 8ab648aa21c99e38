package scheduler

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// dispatchLocked gives a queued task to the least-loaded worker with a free
// slot that runs its type, or puts it at the end of its type's queue.
func (s *Scheduler) dispatchLocked(t *task) {
	ts := s.typeLocked(t.typ)
	if len(ts.free.ws) > 0 && ts.queued == 0 {
		s.assignLocked(t, ts.free.ws[0])
		return
	}
	ts.queue.push(t)
	ts.queued++
	if len(ts.free.ws) > 0 {
		s.fillLocked(ts.free.ws[0])
	}
}

// assignLocked starts the next attempt of t on w.
func (s *Scheduler) assignLocked(t *task, w *worker) {
	if t.inQueue {
		t.inQueue = false
		s.types[t.typ].queued--
	}
	s.waiting--
	s.waitingBytes -= int64(len(t.payload))
	s.running++

	t.attempt++
	t.status = StatusRunning
	t.worker = w
	t.workerName = w.name
	t.started = time.Now()
	t.runAt = time.Time{}
	t.lostFrom = ""

	w.running[t.id] = t
	w.busy++
	s.assignSeq++
	w.lastAssign = s.assignSeq
	s.markDirtyLocked(t)

	s.observeStartLocked(t)
	w.sender.Assign(Assignment{ID: t.id, Attempt: t.attempt, Type: t.typ, Payload: t.payload, Timeout: t.timeout})
	s.reindexLocked(w)
}

// fillLocked assigns queued tasks to w until its slots are full or nothing
// that it runs is queued. Among its types, the oldest queued task goes first.
func (s *Scheduler) fillLocked(w *worker) {
	for w.available() {
		var best *typeState
		var bestTask *task
		for _, typ := range w.types {
			ts := s.types[typ]
			if ts == nil || ts.queued == 0 {
				continue
			}
			t := ts.queue.peek()
			if t != nil && (bestTask == nil || t.seq < bestTask.seq) {
				best, bestTask = ts, t
			}
		}
		if best == nil {
			return
		}
		best.queue.pop()
		best.queued--
		s.assignLocked(bestTask, w)
	}
}

// leaveWaitingLocked takes a queued or retrying task out of the waiting set.
func (s *Scheduler) leaveWaitingLocked(t *task) {
	if t.inQueue {
		t.inQueue = false
		s.types[t.typ].queued--
	}
	if t.status == StatusRetrying {
		s.retrying--
	}
	s.waiting--
	s.waitingBytes -= int64(len(t.payload))
}

// finishLocked moves t into a final state.
func (s *Scheduler) finishLocked(t *task, status Status) {
	t.status = status
	t.finished = time.Now()
	t.worker = nil
	switch status {
	case StatusSucceeded:
		s.stats.Succeeded++
	case StatusFailed:
		s.stats.Failed++
	case StatusCanceled:
		s.stats.Canceled++
	}
	if t.done != nil {
		close(t.done)
		t.done = nil
	}
	s.finished = append(s.finished, finishedEntry{t: t, at: t.finished, bytes: int64(len(t.output))})
	s.resultBytes += int64(len(t.output))
	s.observeFinishLocked(t)
	s.markDirtyLocked(t)
}

// attemptFailedLocked handles an attempt of a running task that ended
// without success: counted lets a lost worker or an error use up an
// attempt, and backoff delays the next one.
func (s *Scheduler) attemptFailedLocked(t *task, errMsg string, counted, backoff bool) {
	s.running--
	t.worker = nil
	t.errMsg = errMsg
	if counted {
		t.failures++
	}
	if t.failures >= t.maxAttempts {
		s.finishLocked(t, StatusFailed)
		s.log.Warn("task failed, no attempt left", "task_id", t.id, "type", t.typ,
			"attempt", t.attempt, "max_attempts", t.maxAttempts, "err", errMsg)
		return
	}

	s.stats.Retried++
	s.observerLocked(t.typ).Retried()
	s.waiting++
	s.waitingBytes += int64(len(t.payload))
	if !backoff {
		t.status = StatusQueued
		s.markDirtyLocked(t)
		s.dispatchLocked(t)
		return
	}
	t.status = StatusRetrying
	t.runAt = time.Now().Add(s.backoff(t.failures))
	s.retrying++
	s.retries.push(t)
	s.markDirtyLocked(t)
	s.wakeTimersLocked()
}

// backoff returns the delay before the retry after the given number of
// failures: RetryBackoff doubled per earlier failure up to RetryBackoffMax,
// with up to 20% of random jitter taken off so that retries spread out.
func (s *Scheduler) backoff(failures uint32) time.Duration {
	d := s.cfg.RetryBackoff
	for i := uint32(1); i < failures && d < s.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryBackoffMax)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// retryHeap orders retrying tasks by the time of their next attempt.
// Entries of tasks that left the retrying state are skipped when popped.
type retryHeap []retryEntry

type retryEntry struct {
	t     *task
	runAt time.Time
}

func (h *retryHeap) push(t *task) {
	*h = append(*h, retryEntry{t: t, runAt: t.runAt})
	h.up(len(*h) - 1)
}

// popDue removes and returns the tasks due at now that are still retrying.
func (h *retryHeap) popDue(now time.Time, out []*task) []*task {
	for len(*h) > 0 && !(*h)[0].runAt.After(now) {
		e := (*h)[0]
		n := len(*h) - 1
		(*h)[0] = (*h)[n]
		(*h)[n] = retryEntry{}
		*h = (*h)[:n]
		h.down(0)
		if e.t.status == StatusRetrying && e.t.runAt.Equal(e.runAt) {
			out = append(out, e.t)
		}
	}
	return out
}

func (h retryHeap) next() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].runAt, true
}

func (h retryHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].runAt.Before(h[p].runAt) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (h retryHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].runAt.Before(h[l].runAt) {
			m = r
		}
		if !h[m].runAt.Before(h[i].runAt) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func lostMessage(worker, reason string) string {
	return fmt.Sprintf("worker %s lost: %s", worker, reason)
}
