package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// serve reads the master's frames until the connection breaks, the master
// falls silent for its heartbeat timeout, a frame is invalid, or ctx ends
// (then it returns nil). Heartbeats go out meanwhile.
func (w *Worker) serve(ctx context.Context, s *session) error {
	stopHeartbeats := make(chan struct{})
	heartbeatsDone := make(chan struct{})
	go func() {
		defer close(heartbeatsDone)
		w.sendHeartbeats(s, stopHeartbeats)
	}()
	defer func() {
		close(stopHeartbeats)
		<-heartbeatsDone
	}()

	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.timeout))
		typ, body, err := s.conn.Recv()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return readError(s, err)
		}

		w.mu.Lock()
		w.confirmLocked(s, time.Now())
		w.mu.Unlock()
		if err := w.dispatch(s, typ, body); err != nil {
			return err
		}
	}
}

func readError(s *session, err error) error {
	if isTimeout(err) {
		return fmt.Errorf("master %s sent nothing for %s (its heartbeat timeout)", s.addr, s.timeout)
	}
	if werr := s.conn.Err(); werr != nil {
		return werr
	}
	return fmt.Errorf("read from master %s: %w", s.addr, err)
}

// dispatch handles one frame from the master. An error ends the connection.
func (w *Worker) dispatch(s *session, typ wire.Type, body []byte) error {
	switch typ {
	case wire.TypeAssign:
		var msg wire.Assign
		if err := s.conn.Decode(body, &msg); err != nil {
			return fmt.Errorf("invalid assign from master %s: %w", s.addr, err)
		}
		w.handleAssign(msg)
	case wire.TypeCancel:
		var msg wire.Cancel
		if err := s.conn.Decode(body, &msg); err != nil {
			return fmt.Errorf("invalid cancel from master %s: %w", s.addr, err)
		}
		w.handleCancel(msg)
	case wire.TypeHeartbeat:
		var msg wire.Heartbeat
		if err := s.conn.Decode(body, &msg); err != nil {
			return fmt.Errorf("invalid heartbeat from master %s: %w", s.addr, err)
		}
		w.mu.Lock()
		w.ackLocked(s, msg.Results)
		w.mu.Unlock()
	case wire.TypeDrain:
		var msg wire.Drain
		if err := s.conn.Decode(body, &msg); err != nil {
			return fmt.Errorf("invalid drain from master %s: %w", s.addr, err)
		}
		w.requestDrain(s.addr, msg.Reason)
	case wire.TypeReject:
		var msg wire.Reject
		if err := s.conn.Decode(body, &msg); err != nil {
			return fmt.Errorf("invalid reject from master %s: %w", s.addr, err)
		}
		w.log.Error("master closed the connection with a reject", "master", s.addr, "reason", msg.Reason)
		return fmt.Errorf("%w: %s", errRejected, msg.Reason)
	default:
		return fmt.Errorf("unexpected %s frame (type %d) from master %s", typ, uint8(typ), s.addr)
	}
	return nil
}

// requestDrain records the master's drain request for DrainRequested.
func (w *Worker) requestDrain(addr, reason string) {
	w.drainOnce.Do(func() {
		w.log.Info("drain step: master requested a drain", "master", addr, "reason", reason)
		close(w.drainRequested)
	})
}

// sendHeartbeats sends a Heartbeat every interval until stop is closed or a
// send fails; a failed send has broken the connection, so serve ends too.
func (w *Worker) sendHeartbeats(s *session, stop <-chan struct{}) {
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}

		w.mu.Lock()
		msg := wire.Heartbeat{Running: len(w.attempts)}
		w.mu.Unlock()
		if err := s.conn.Send(wire.TypeHeartbeat, &msg); err != nil {
			return
		}
	}
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
