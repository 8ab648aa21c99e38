// Package scheduler is the master's queue. It keeps every task in a named
// queue and hands queued tasks to idle worker slots: a slot picks one of its
// worker's queues by weight, then that queue's task of highest priority, and
// the least-loaded worker that serves the task's queue and type wins. It
// holds delayed tasks until their run time, records exactly one result per
// task, and retries, requeues or fails attempts. It knows nothing of the network: the daemon turns
// connections and membership events into calls of AddWorker, RemoveWorker
// and Complete, and the scheduler talks back through each worker's Sender.
package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// Status is the state of a task.
type Status string

// Task states. Succeeded, failed and canceled are final.
const (
	StatusQueued    Status = "queued"
	StatusScheduled Status = "scheduled" // waits for its run_at before it queues
	StatusRunning   Status = "running"
	StatusRetrying  Status = "retrying" // an attempt failed; the next waits for its backoff
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed" // no attempt left
	StatusCanceled  Status = "canceled"
)

// Final reports whether no further change can happen to a task in state s.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Spec is a task to submit.
type Spec struct {
	Type        string
	Payload     []byte
	Timeout     time.Duration // 0: the type's default, else the global default
	MaxAttempts int           // 0: the type's default, else the global default
	Key         string        // idempotency key, "" for none
	Queue       string        // "" for DefaultQueue
	Priority    int           // MinPriority..MaxPriority; higher runs first within a queue
	RunAt       time.Time     // zero or past: queue at once; else scheduled until then
}

// Task is a snapshot of one task.
type Task struct {
	ID          string
	Type        string
	Queue       string
	Priority    int
	Status      Status
	Key         string
	PayloadSize int
	Attempts    int // attempts handed out so far
	Failures    int // attempts that counted against MaxAttempts
	MaxAttempts int
	Timeout     time.Duration
	Worker      string // worker of the current or last attempt
	Output      []byte
	Error       string
	Created     time.Time
	Started     time.Time // start of the current or last attempt
	Finished    time.Time
	RunAt       time.Time // retrying or scheduled: when the next attempt may start
}

// Worker is a snapshot of one connected worker.
type Worker struct {
	Name      string
	Addr      string
	Slots     int
	Busy      int
	Types     []string
	Queues    []QueueWeight
	Strict    bool // queues are served in list order, weights ignored
	Draining  bool
	Since     time.Time
	Completed uint64 // results received from this worker since it connected
}

// Stats are the scheduler's counters and gauges.
type Stats struct {
	Queued      int   // tasks waiting for a slot
	QueuedBytes int64 // payload bytes of queued and retrying tasks
	Retrying    int
	Scheduled   int // tasks waiting for their run_at
	Running     int
	Workers     int
	Slots       int
	BusySlots   int

	Submitted    uint64
	Succeeded    uint64
	Failed       uint64 // tasks that ended failed
	Canceled     uint64
	Retried      uint64 // attempts that were retried after a failure or a lost worker
	StaleResults uint64 // results of written-off attempts, dropped
}

// Assignment is one attempt handed to a worker.
type Assignment struct {
	ID      string
	Attempt uint32
	Type    string
	Payload []byte
	Timeout time.Duration
}

// Sender delivers messages to one worker. The scheduler calls it with its
// lock held, so implementations must queue and return at once, and must not
// call back into the scheduler.
type Sender interface {
	Assign(a Assignment)
	Cancel(id string, attempt uint32)
}

// Result is a worker's report on one attempt.
type Result struct {
	ID         string
	Attempt    uint32
	OK         bool
	Output     []byte
	Error      string
	HandedBack bool // the worker stopped without a verdict; requeue without counting
}

// AttemptRef names one attempt of one task.
type AttemptRef struct {
	ID      string
	Attempt uint32
}

// TypeDefaults are per-type defaults; zero fields fall back to the globals.
type TypeDefaults struct {
	Timeout     time.Duration
	MaxAttempts int
}

// Config sets the scheduler's policies and limits.
type Config struct {
	MaxAttempts     int
	TaskTimeout     time.Duration
	Types           map[string]TypeDefaults
	RetryBackoff    time.Duration // delay before the first retry; doubles per failure
	RetryBackoffMax time.Duration
	MaxQueuedTasks  int
	MaxQueuedBytes  int64
	MaxPayloadBytes int64
	ResultRetention time.Duration // final tasks are forgotten this long after they end
	MaxResultBytes  int64         // outputs of final tasks kept; past it the oldest are forgotten early
	AdoptGrace      time.Duration // after a restart, time for workers to claim running attempts

	// Queues are per-queue limits by queue name, checked on top of
	// MaxQueuedTasks and MaxQueuedBytes.
	Queues map[string]QueueLimits

	Store  store.Store // required; store.NewMemory() when nothing must survive a restart
	Logger *slog.Logger

	// Observer receives task events for metrics; nil for none.
	Observer Observer
}

// Errors that callers act on. Errors returned by the scheduler wrap them.
var (
	ErrNotFound        = errors.New("task not found")
	ErrQueueFull       = errors.New("queue full")
	ErrPayloadTooLarge = errors.New("payload too large")
	ErrInvalid         = errors.New("invalid task")
	ErrConflict        = errors.New("task state does not allow this")
	ErrStore           = errors.New("store failed")
	ErrStopped         = errors.New("scheduler stopped")
)

// LimitError reports a submit rejected by a queue or payload limit.
type LimitError struct {
	Setting string // config key of the limit
	Limit   int64
	Value   int64  // what the submit would have needed
	Queue   string // queue whose own limit was reached, "" for a global limit
	kind    error
}

func (e *LimitError) Error() string {
	if e.kind == ErrPayloadTooLarge {
		return fmt.Sprintf("payload of %d bytes exceeds %s = %d", e.Value, e.Setting, e.Limit)
	}
	if e.Queue != "" {
		return fmt.Sprintf("queue %q full: %s = %d reached (would be %d); retry later or raise the limit",
			e.Queue, e.Setting, e.Limit, e.Value)
	}
	return fmt.Sprintf("queue full: %s = %d reached (would be %d); retry later or raise the limit", e.Setting, e.Limit, e.Value)
}

func (e *LimitError) Unwrap() error { return e.kind }

// InvalidError reports a field of a submitted task that is not acceptable.
type InvalidError struct {
	Index  int // position in the batch, -1 for a single task
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("task %d: %s: %s", e.Index, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Reason)
}

func (e *InvalidError) Unwrap() error { return ErrInvalid }
