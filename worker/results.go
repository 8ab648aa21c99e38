package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// maxPendingResults bounds the results kept in memory while they wait for
// a connection or for confirmation. Past it the oldest are dropped.
const maxPendingResults = 100_000

// outbox holds the results that the master may not have yet. It is guarded
// by Worker.mu.
//
// The protocol has no acknowledgement for a Result, so a result handed to a
// connection stays in sent until the connection proves itself afterwards
// (see confirmAge). When the connection breaks first, the result goes back to
// unsent: it is listed in the next Hello and sent again. A master treats a
// second copy of a Result as late and drops it, so keeping one too long costs
// only memory.
type outbox struct {
	unsent []wire.Result // not yet handed to a connection, oldest first
	sent   []sentResult  // handed to the current connection, oldest first
}

type sentResult struct {
	res    wire.Result
	sentAt time.Time
	seq    uint64 // position among the results sent on its connection, from 1
}

func (o *outbox) len() int { return len(o.unsent) + len(o.sent) }

// drop removes the result of key, and reports whether there was one.
func (o *outbox) drop(key attemptKey) bool {
	before := len(o.unsent)
	remaining := o.unsent[:0]
	for _, res := range o.unsent {
		if res.TaskID != key.taskID || res.Attempt != key.attempt {
			remaining = append(remaining, res)
		}
	}
	clear(o.unsent[len(remaining):])
	o.unsent = remaining
	return len(remaining) < before
}

// requeueSent moves the sent results back in front of the unsent ones.
func (o *outbox) requeueSent() {
	if len(o.sent) == 0 {
		return
	}
	merged := make([]wire.Result, 0, len(o.sent)+len(o.unsent))
	for _, s := range o.sent {
		merged = append(merged, s.res)
	}
	o.unsent = append(merged, o.unsent...)
	o.sent = nil
}

// deliverLocked sends res on the current connection, or keeps it until
// there is one.
func (w *Worker) deliverLocked(res wire.Result) {
	defer w.notifyLocked()
	if s := w.session; s != nil && w.sendResultLocked(s, res) {
		return
	}
	w.outbox.unsent = append(w.outbox.unsent, res)
	w.trimOutboxLocked()
}

// sendResultLocked hands res to the connection and reports whether it is
// done with: sent, or dropped because it can never fit in a frame.
func (w *Worker) sendResultLocked(s *session, res wire.Result) bool {
	err := s.conn.Send(wire.TypeResult, &res)
	var tooLarge *wire.FrameTooLargeError
	if errors.As(err, &tooLarge) && res.OK {
		res = wire.Result{
			TaskID:   res.TaskID,
			Attempt:  res.Attempt,
			Duration: res.Duration,
			Error:    fmt.Sprintf("result does not fit in one frame: %v", err),
		}
		err = s.conn.Send(wire.TypeResult, &res)
	}
	if errors.As(err, &tooLarge) {
		w.log.Error("dropping a result that does not fit in one frame",
			"task_id", res.TaskID, "attempt", res.Attempt, "err", err)
		return true
	}
	if err != nil {
		w.log.Debug("send result failed; keeping it for the next connection",
			"task_id", res.TaskID, "attempt", res.Attempt, "err", err)
		return false
	}
	s.sent++
	w.outbox.sent = append(w.outbox.sent, sentResult{res: res, sentAt: time.Now(), seq: s.sent})
	return true
}

// ackLocked forgets the results that the master acknowledged: the first
// processed results sent on s.
func (w *Worker) ackLocked(s *session, processed uint64) {
	if w.session != s {
		return
	}
	n := 0
	for n < len(w.outbox.sent) && w.outbox.sent[n].seq <= processed {
		w.outbox.sent[n] = sentResult{}
		n++
	}
	if n > 0 {
		w.outbox.sent = w.outbox.sent[n:]
		w.notifyLocked()
	}
}

// flushUnsentLocked sends the kept results on a new connection, oldest
// first, and stops at the first failure.
func (w *Worker) flushUnsentLocked(s *session) int {
	n := 0
	for len(w.outbox.unsent) > 0 {
		if !w.sendResultLocked(s, w.outbox.unsent[0]) {
			break
		}
		w.outbox.unsent[0] = wire.Result{}
		w.outbox.unsent = w.outbox.unsent[1:]
		n++
	}
	return n
}

// trimOutboxLocked drops the oldest results past maxPendingResults.
func (w *Worker) trimOutboxLocked() {
	for w.outbox.len() > maxPendingResults {
		var res wire.Result
		if len(w.outbox.sent) > 0 {
			res = w.outbox.sent[0].res
			w.outbox.sent[0] = sentResult{}
			w.outbox.sent = w.outbox.sent[1:]
		} else {
			res = w.outbox.unsent[0]
			w.outbox.unsent[0] = wire.Result{}
			w.outbox.unsent = w.outbox.unsent[1:]
		}
		w.log.Error("dropping an undelivered result: too many results wait for the master",
			"task_id", res.TaskID, "attempt", res.Attempt, "limit", maxPendingResults)
	}
}

// confirmLocked drops the results that s sent at least confirmAge ago. It
// is called when a frame from the master arrives, so the connection works in
// both directions at that moment.
func (w *Worker) confirmLocked(s *session, now time.Time) {
	if w.session != s || s.conn.Err() != nil {
		return
	}
	n := 0
	for n < len(w.outbox.sent) && now.Sub(w.outbox.sent[n].sentAt) >= s.confirmAge {
		w.outbox.sent[n] = sentResult{}
		n++
	}
	if n > 0 {
		w.outbox.sent = w.outbox.sent[n:]
		w.notifyLocked()
	}
}
