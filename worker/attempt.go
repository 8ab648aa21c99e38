package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// stuckGrace is how long a handler may keep running after its ctx is done
// before the worker reports the attempt's Result without it. It covers the
// exec handler's SIGTERM-to-SIGKILL grace with room to spare.
const stuckGrace = killGrace + 2*time.Second

// maxErrorBytes caps the error text of one Result.
const maxErrorBytes = 8 << 10

// Causes with which the worker cancels an attempt's context.
var (
	errCanceled   = errors.New("canceled")
	errStale      = errors.New("written off by the master")
	errHandedBack = errors.New("handed back to the master")
)

// timeoutError is the cause of an attempt's context when Assign.Timeout
// passed.
type timeoutError struct{ timeout time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("timed out after %s", e.timeout) }

// panicError is a panic recovered from a handler.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.value) }

type attemptKey struct {
	taskID  string
	attempt uint32
}

func (k attemptKey) ref() wire.AttemptRef {
	return wire.AttemptRef{TaskID: k.taskID, Attempt: k.attempt}
}

// attempt is one assigned attempt. The fields after ctx are guarded by
// Worker.mu.
type attempt struct {
	key     attemptKey
	typ     string
	timeout time.Duration
	started time.Time
	cancel  context.CancelCauseFunc
	ctx     context.Context // the handler's context, done when the attempt stops

	timer    *time.Timer // fires at the timeout; nil without one
	stuck    *time.Timer // fires stuckGrace after the attempt was stopped
	returned bool        // the handler returned
	reported bool        // the Result was queued, or dropped because the attempt is stale
	stale    bool        // the master wrote the attempt off: its Result is dropped
}

// deadlineContext gives an attempt's context the deadline of its timeout.
// The timeout itself is a timer of the attempt (see stopLocked): a context
// made by context.WithDeadline would register as a child of the attempt's
// cancel context, which costs a map per attempt.
type deadlineContext struct {
	context.Context
	deadline time.Time
}

func (c deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

// handleAssign starts the attempt, or hands it back at once when the worker
// cannot run it now.
func (w *Worker) handleAssign(msg wire.Assign) {
	key := attemptKey{taskID: msg.TaskID, attempt: msg.Attempt}

	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.byRef[key]; dup {
		w.log.Warn("ignoring a second assign of an attempt that is already running",
			"task_id", msg.TaskID, "attempt", msg.Attempt, "type", msg.Type)
		return
	}
	handler, reason := w.admitLocked(msg.Type)
	if reason != "" {
		w.log.Warn("handing back assignment",
			"task_id", msg.TaskID, "attempt", msg.Attempt, "type", msg.Type, "reason", reason)
		w.deliverLocked(wire.Result{
			TaskID:     msg.TaskID,
			Attempt:    msg.Attempt,
			HandedBack: true,
			Error:      reason,
		})
		return
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	a := &attempt{
		key:     key,
		typ:     msg.Type,
		timeout: time.Duration(msg.Timeout),
		started: time.Now(),
		cancel:  cancel,
	}
	if a.timeout > 0 {
		ctx = deadlineContext{Context: ctx, deadline: a.started.Add(a.timeout)}
		a.timer = time.AfterFunc(a.timeout, func() { w.timedOut(a) })
	}
	a.ctx = withTaskInfo(ctx, TaskInfo{ID: msg.TaskID, Attempt: msg.Attempt, Type: msg.Type})
	w.attempts[a] = struct{}{}
	w.byRef[key] = a
	w.log.Debug("attempt started", "task_id", msg.TaskID, "attempt", msg.Attempt,
		"type", msg.Type, "timeout", a.timeout)
	w.runners.run(job{w: w, a: a, h: handler, payload: msg.Payload})
}

// admitLocked returns the handler for taskType, or why the worker cannot run
// another attempt of it now.
func (w *Worker) admitLocked(taskType string) (Handler, string) {
	if w.draining {
		return nil, "worker is draining"
	}
	handler, ok := w.handlers[taskType]
	if !ok {
		return nil, fmt.Sprintf("no handler for task type %q on this worker", taskType)
	}
	if len(w.attempts) >= w.slots {
		return nil, fmt.Sprintf("all %d slots are busy", w.slots)
	}
	return handler, ""
}

// run executes one attempt and reports its Result.
func (w *Worker) run(a *attempt, h Handler, payload []byte) {
	out, err := callHandler(a.ctx, h, payload)
	w.finish(a, out, err, time.Since(a.started))
}

func callHandler(ctx context.Context, h Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return h.Handle(ctx, payload)
}

// timedOut stops an attempt whose timeout passed.
func (w *Worker) timedOut(a *attempt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked(a, &timeoutError{timeout: a.timeout})
}

// stopLocked cancels the attempt's context with cause and, unless its
// handler returned already, starts the wait after which the Result goes
// out without the handler.
func (w *Worker) stopLocked(a *attempt, cause error) {
	a.cancel(cause)
	if a.returned || a.stuck != nil {
		return
	}
	a.stuck = time.AfterFunc(stuckGrace, func() { w.reportStuck(a) })
}

// reportStuck reports the attempt's Result without its handler when the
// handler has not returned stuckGrace after the attempt was stopped. The
// handler keeps its slot until it returns.
func (w *Worker) reportStuck(a *attempt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a.returned || a.reported {
		return
	}
	a.reported = true
	delete(w.byRef, a.key)
	w.log.Warn("handler ignored cancellation; sending the result without it, "+
		"and its slot stays busy until it returns",
		"task_id", a.key.taskID, "attempt", a.key.attempt, "type", a.typ, "waited", stuckGrace)
	if a.stale {
		return
	}
	res := w.resultLocked(a, nil, nil, time.Since(a.started))
	w.failed++
	w.deliverLocked(res)
}

// finish frees the attempt's slot and reports its Result unless that
// already happened.
func (w *Worker) finish(a *attempt, out []byte, err error, took time.Duration) {
	var panicked *panicError
	if errors.As(err, &panicked) {
		w.log.Error("handler panicked", "task_id", a.key.taskID, "attempt", a.key.attempt,
			"type", a.typ, "err", err, "stack", string(panicked.stack))
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	a.returned = true
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.stuck != nil {
		a.stuck.Stop()
	}
	delete(w.attempts, a)
	w.notifyLocked()
	if a.reported {
		a.cancel(nil)
		return
	}
	a.reported = true
	delete(w.byRef, a.key)
	if a.stale {
		a.cancel(nil)
		w.log.Info("dropping the result of a written-off attempt",
			"task_id", a.key.taskID, "attempt", a.key.attempt, "type", a.typ)
		return
	}

	res := w.resultLocked(a, out, err, took)
	a.cancel(nil)
	if res.OK {
		w.completed++
		w.log.Debug("attempt succeeded", "task_id", a.key.taskID, "attempt", a.key.attempt,
			"type", a.typ, "duration", took, "output_bytes", len(res.Output))
	} else {
		w.failed++
		w.log.Warn("attempt failed", "task_id", a.key.taskID, "attempt", a.key.attempt,
			"type", a.typ, "duration", took, "err", res.Error)
	}
	w.deliverLocked(res)
}

// resultLocked builds the Result of an attempt whose handler returned out
// and err, or of one reported without its handler (out and err nil, the
// attempt stopped). Cancellation wins over what the handler returned.
func (w *Worker) resultLocked(a *attempt, out []byte, err error, took time.Duration) wire.Result {
	res := wire.Result{TaskID: a.key.taskID, Attempt: a.key.attempt, Duration: took.Nanoseconds()}
	switch {
	case a.ctx.Err() != nil:
		res.Error = truncateError(context.Cause(a.ctx).Error())
	case err != nil:
		res.Error = truncateError(err.Error())
	case int64(len(out)) > w.cfg.MaxOutputBytes:
		res.Error = fmt.Sprintf(
			"output exceeds max_output_bytes (%d bytes): the handler returned %d bytes",
			w.cfg.MaxOutputBytes, len(out))
	default:
		res.OK = true
		res.Output = out
	}
	return res
}

func truncateError(text string) string {
	if text == "" {
		return "handler failed without an error message"
	}
	if len(text) <= maxErrorBytes {
		return text
	}
	return text[:maxErrorBytes] + "... (error text truncated)"
}

// handleCancel cancels a running attempt. Its Result still goes to the
// master, with the error "canceled".
func (w *Worker) handleCancel(msg wire.Cancel) {
	key := attemptKey{taskID: msg.TaskID, attempt: msg.Attempt}

	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.byRef[key]
	if !ok {
		w.log.Debug("ignoring cancel of an attempt that is not running",
			"task_id", msg.TaskID, "attempt", msg.Attempt)
		return
	}
	w.log.Info("canceling attempt at the master's request",
		"task_id", msg.TaskID, "attempt", msg.Attempt, "type", a.typ)
	w.stopLocked(a, errCanceled)
}

// markStaleLocked stops the attempts that the master wrote off and drops
// their results.
func (w *Worker) markStaleLocked(refs []wire.AttemptRef) {
	for _, ref := range refs {
		key := attemptKey{taskID: ref.TaskID, attempt: ref.Attempt}
		log := w.log.With("task_id", ref.TaskID, "attempt", ref.Attempt)
		if a, ok := w.byRef[key]; ok && !a.stale {
			a.stale = true
			w.stopLocked(a, errStale)
			log.Info("stopping an attempt that the master wrote off")
		}
		if w.outbox.drop(key) {
			log.Info("dropping the undelivered result of an attempt that the master wrote off")
		}
	}
}

// handBackAllLocked cancels every attempt whose Result is not reported yet
// and reports it with HandedBack set. It returns how many it handed back.
func (w *Worker) handBackAllLocked(reason string) int {
	n := 0
	for key, a := range w.byRef {
		a.reported = true
		delete(w.byRef, key)
		w.stopLocked(a, errHandedBack)
		if a.stale {
			continue
		}
		w.log.Info("handing back attempt",
			"task_id", key.taskID, "attempt", key.attempt, "reason", reason)
		w.deliverLocked(wire.Result{
			TaskID:     key.taskID,
			Attempt:    key.attempt,
			HandedBack: true,
			Error:      reason,
			Duration:   time.Since(a.started).Nanoseconds(),
		})
		n++
	}
	w.notifyLocked()
	return n
}
