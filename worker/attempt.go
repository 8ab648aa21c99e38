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

// attempt is one assigned attempt. The fields after cancel are guarded by
// Worker.mu.
type attempt struct {
	key     attemptKey
	typ     string
	timeout time.Duration
	started time.Time
	cancel  context.CancelCauseFunc

	reported bool // the Result was queued, or dropped because the attempt is stale
	stale    bool // the master wrote the attempt off: its Result is dropped
}

// handleAssign starts the attempt, or hands it back at once when the worker
// cannot run it now.
func (w *Worker) handleAssign(msg wire.Assign) {
	key := attemptKey{taskID: msg.TaskID, attempt: msg.Attempt}
	log := w.log.With("task_id", msg.TaskID, "attempt", msg.Attempt)

	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.byRef[key]; dup {
		log.Warn("ignoring a second assign of an attempt that is already running", "type", msg.Type)
		return
	}
	handler, reason := w.admitLocked(msg.Type)
	if reason != "" {
		log.Warn("handing back assignment", "type", msg.Type, "reason", reason)
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
	w.attempts[a] = struct{}{}
	w.byRef[key] = a
	log.Debug("attempt started", "type", msg.Type, "timeout", a.timeout)
	go w.run(ctx, a, handler, msg.Payload)
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
func (w *Worker) run(ctx context.Context, a *attempt, h Handler, payload []byte) {
	defer a.cancel(nil)
	if a.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, a.timeout, &timeoutError{timeout: a.timeout})
		defer stop()
	}
	ctx = withTaskInfo(ctx, TaskInfo{ID: a.key.taskID, Attempt: a.key.attempt, Type: a.typ})

	returned := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() { w.watchStuck(ctx, a, returned) })
	out, err := callHandler(ctx, h, payload)
	close(returned)
	stopWatch()

	w.finish(ctx, a, out, err, time.Since(a.started))
}

func callHandler(ctx context.Context, h Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return h.Handle(ctx, payload)
}

// watchStuck reports the attempt's Result without its handler when the
// handler has not returned stuckGrace after ctx was done. The handler keeps
// its slot until it returns.
func (w *Worker) watchStuck(ctx context.Context, a *attempt, returned <-chan struct{}) {
	timer := time.NewTimer(stuckGrace)
	defer timer.Stop()
	select {
	case <-returned:
		return
	case <-timer.C:
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if a.reported {
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
	res := w.resultLocked(ctx, a, nil, nil, time.Since(a.started))
	w.failed++
	w.deliverLocked(res)
}

// finish frees the attempt's slot and reports its Result unless that
// already happened.
func (w *Worker) finish(
	ctx context.Context, a *attempt, out []byte, err error, took time.Duration,
) {
	log := w.log.With("task_id", a.key.taskID, "attempt", a.key.attempt, "type", a.typ)
	var panicked *panicError
	if errors.As(err, &panicked) {
		log.Error("handler panicked", "err", err, "stack", string(panicked.stack))
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.attempts, a)
	w.notifyLocked()
	if a.reported {
		return
	}
	a.reported = true
	delete(w.byRef, a.key)
	if a.stale {
		log.Info("dropping the result of a written-off attempt")
		return
	}

	res := w.resultLocked(ctx, a, out, err, took)
	if res.OK {
		w.completed++
		log.Debug("attempt succeeded", "duration", took, "output_bytes", len(res.Output))
	} else {
		w.failed++
		log.Warn("attempt failed", "duration", took, "err", res.Error)
	}
	w.deliverLocked(res)
}

// resultLocked builds the Result of an attempt whose handler returned out
// and err, or of one reported without its handler (out and err nil, ctx
// done). Cancellation wins over what the handler returned.
func (w *Worker) resultLocked(
	ctx context.Context, a *attempt, out []byte, err error, took time.Duration,
) wire.Result {
	res := wire.Result{TaskID: a.key.taskID, Attempt: a.key.attempt, Duration: took.Nanoseconds()}
	switch {
	case ctx.Err() != nil:
		res.Error = truncateError(context.Cause(ctx).Error())
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
	log := w.log.With("task_id", msg.TaskID, "attempt", msg.Attempt)

	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.byRef[key]
	if !ok {
		log.Debug("ignoring cancel of an attempt that is not running")
		return
	}
	log.Info("canceling attempt at the master's request")
	a.cancel(errCanceled)
}

// markStaleLocked stops the attempts that the master wrote off and drops
// their results.
func (w *Worker) markStaleLocked(refs []wire.AttemptRef) {
	for _, ref := range refs {
		key := attemptKey{taskID: ref.TaskID, attempt: ref.Attempt}
		log := w.log.With("task_id", ref.TaskID, "attempt", ref.Attempt)
		if a, ok := w.byRef[key]; ok && !a.stale {
			a.stale = true
			a.cancel(errStale)
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
		a.cancel(errHandedBack)
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
