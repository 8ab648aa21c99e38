package scheduler

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"
)

// dispatchLocked queues t in its lane and, unless its queue is paused,
// offers it to the least-loaded free worker of that lane. A worker with a
// free slot has nothing queued in its unpaused lanes, so that worker takes
// t or a task of equal standing.
func (s *Scheduler) dispatchLocked(t *task) {
	l := s.enqueueLocked(t)
	if l.queue.paused {
		return
	}
	if w := l.freeWorker(); w != nil {
		s.fillLocked(w)
	}
}

// assignLocked starts the next attempt of t on w.
func (s *Scheduler) assignLocked(t *task, w *worker) {
	s.unqueueLocked(t)
	s.addWaitingLocked(t, -1)
	s.running++

	t.attempt++
	t.status = StatusRunning
	t.worker = w
	t.edit().workerName = w.name
	t.edit().started = time.Now()
	t.edit().runAt = time.Time{}
	t.edit().lostFrom = ""

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
// that it takes is queued. Each slot first picks one of w's queues, by
// weight or in strict order, then the best task of that queue among w's
// types: higher priority first, then the oldest.
func (s *Scheduler) fillLocked(w *worker) {
	for w.available() {
		l := w.pickLane()
		if l == nil {
			return
		}
		t := l.tasks.top()
		s.assignLocked(t, w)
	}
}

// pickLane returns the lane that w's next free slot takes a task from, or
// nil when none of its unpaused lanes holds a task. It visits only the
// ready queues of w's class: the unpaused ones with a task of w's types.
// With weights it runs one round of smooth weighted round-robin over them:
// over a long run each gets a share of the slots proportional to its
// weight, and no queue with a weight starves. That round costs one step per
// ready queue.
func (w *worker) pickLane() *lane {
	c := w.class
	if w.strict {
		i := c.ready.next(0)
		if i < 0 {
			return nil
		}
		return c.topLane(i)
	}

	// The loop walks the set bits of c.ready itself rather than call
	// c.ready.next, because it runs once per ready queue on every pick.
	best, bestCurrent, total := -1, math.MinInt, 0
	queues := w.queues
	for word, members := range c.ready {
		for members != 0 {
			i := word*64 + bits.TrailingZeros64(members)
			members &= members - 1
			wq := &queues[i]
			wq.current += wq.weight
			total += wq.weight
			if wq.current > bestCurrent {
				best, bestCurrent = i, wq.current
			}
		}
	}
	if best < 0 {
		return nil
	}
	queues[best].current -= total
	return c.topLane(best)
}

// taskBefore reports whether a is handed out before b: higher priority
// first, then submission order.
func taskBefore(a, b *task) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.seq < b.seq
}

// leaveWaitingLocked takes a queued, scheduled or retrying task out of the
// waiting set.
func (s *Scheduler) leaveWaitingLocked(t *task) {
	s.unqueueLocked(t)
	switch t.status {
	case StatusRetrying:
		s.retrying--
	case StatusScheduled:
		s.scheduled--
	}
	s.addWaitingLocked(t, -1)
}

// finishLocked moves t into a final state.
func (s *Scheduler) finishLocked(t *task, status Status) {
	t.status = status
	t.edit().finished = time.Now()
	t.worker = nil
	switch status {
	case StatusSucceeded:
		s.stats.Succeeded++
	case StatusFailed:
		s.stats.Failed++
	case StatusCanceled:
		s.stats.Canceled++
	}
	if t.info().done != nil {
		close(t.info().done)
		t.edit().done = nil
	}
	s.finished.push(finishedEntry{t: t, at: t.info().finished, bytes: int64(len(t.info().output))})
	s.resultBytes += int64(len(t.info().output))
	s.observeFinishLocked(t)
	s.markDirtyLocked(t)
}

// attemptFailedLocked handles an attempt of a running task that ended
// without success: counted lets a lost worker or an error use up an
// attempt, and backoff delays the next one.
func (s *Scheduler) attemptFailedLocked(t *task, errMsg string, counted, backoff bool) {
	s.running--
	t.worker = nil
	t.edit().errMsg = errMsg
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
	s.addWaitingLocked(t, 1)
	if !backoff {
		t.status = StatusQueued
		s.markDirtyLocked(t)
		s.dispatchLocked(t)
		return
	}
	t.status = StatusRetrying
	t.edit().runAt = time.Now().Add(s.backoff(t.failures))
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

// retryHeap orders retrying and scheduled tasks by the time of their next
// attempt. Entries of tasks that left those states are skipped when popped.
type retryHeap []retryEntry

type retryEntry struct {
	t     *task
	runAt time.Time
}

func (h *retryHeap) push(t *task) {
	*h = append(*h, retryEntry{t: t, runAt: t.info().runAt})
	h.up(len(*h) - 1)
}

// popDue removes and returns the tasks due at now that still wait for
// that time.
func (h *retryHeap) popDue(now time.Time, out []*task) []*task {
	for len(*h) > 0 && !(*h)[0].runAt.After(now) {
		e := (*h)[0]
		n := len(*h) - 1
		(*h)[0] = (*h)[n]
		(*h)[n] = retryEntry{}
		*h = (*h)[:n]
		h.down(0)
		if e.valid() {
			out = append(out, e.t)
		}
	}
	return out
}

// valid reports whether the entry's task still waits for the entry's time.
func (e retryEntry) valid() bool {
	st := e.t.status
	return (st == StatusRetrying || st == StatusScheduled) && e.t.info().runAt.Equal(e.runAt)
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
