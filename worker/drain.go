package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// drainReason is the Reason of the Drain frame and the Error of handed-back
// results.
const drainReason = "worker is draining"

// Drain stops taking tasks, sends wire.Drain to the master, and waits for
// the running attempts up to DrainTimeout or until ctx ends. Then it cancels
// the rest and sends their Results with HandedBack set. It returns once
// every Result is written to the connection, or with an error when no
// connection to write them on came within another DrainTimeout. Finally it
// waits up to 4 s for canceled handlers to return, so that exec process
// groups are gone.
//
// Run must stay active until Drain returns. The worker keeps handing back
// new assignments afterwards; a second Drain call waits again.
func (w *Worker) Drain(ctx context.Context) error {
	w.beginDrain()

	deadline := time.Now().Add(w.cfg.DrainTimeout)
	finished := w.waitFor(ctx.Done(), deadline, func() bool { return len(w.byRef) == 0 })
	if finished {
		w.log.Info("drain step: every running attempt finished")
	} else {
		w.mu.Lock()
		n := w.handBackAllLocked(drainReason)
		w.mu.Unlock()
		w.log.Warn("drain step: handed back the attempts still running",
			"handed_back", n, "drain_timeout", w.cfg.DrainTimeout, "context_done", ctx.Err() != nil)
	}

	err := w.waitResultsWritten(w.cfg.DrainTimeout)
	w.waitHandlersReturned(stopGrace)
	if err != nil {
		w.log.Error("drain step: results not delivered", "err", err)
		return err
	}
	w.log.Info("drain step: done, every result is written to the master")
	return nil
}

// beginDrain stops new assignments and sends wire.Drain to the master. A
// worker that is not connected sets Hello.Draining on its next connection.
func (w *Worker) beginDrain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.draining = true
	w.log.Info("drain step: taking no new tasks",
		"running", len(w.byRef), "drain_timeout", w.cfg.DrainTimeout)
	if s := w.session; s != nil {
		if err := s.conn.Send(wire.TypeDrain, &wire.Drain{Reason: drainReason}); err != nil {
			w.log.Warn("send drain to master failed; the next hello sets draining",
				"master", s.addr, "err", err)
		}
	}
}

// waitResultsWritten waits until no result waits for a connection and the
// current connection, if any, has written every queued frame.
func (w *Worker) waitResultsWritten(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var s *session
		ready := w.waitFor(nil, deadline, func() bool {
			s = w.session
			return len(w.outbox.unsent) == 0
		})
		if !ready {
			w.mu.Lock()
			n := len(w.outbox.unsent)
			w.mu.Unlock()
			return fmt.Errorf("drain: %d results not delivered: no connection to the master within %s",
				n, limit)
		}
		if s == nil {
			return nil // nothing was waiting, and nothing sent is in doubt
		}

		s.conn.Flush(time.Until(deadline))
		w.mu.Lock()
		written := w.session == s && s.conn.Err() == nil && len(w.outbox.unsent) == 0
		n := len(w.outbox.unsent)
		w.mu.Unlock()
		if written {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drain: %d results not delivered: the connection to the master broke "+
				"and no new one came within %s", n, limit)
		}
	}
}
