package scheduler

import (
	"time"

	"github.com/lbd-dev/lbd/store"
)

// task is the scheduler's own record of a task. Every field is guarded by
// Scheduler.mu.
type task struct {
	id          string
	seq         uint64
	typ         string
	queue       string
	priority    int
	payload     []byte
	key         string
	status      Status
	attempt     uint32 // last attempt handed out
	failures    uint32 // attempts that counted against maxAttempts
	maxAttempts uint32
	timeout     time.Duration
	workerName  string
	output      []byte
	errMsg      string
	created     time.Time
	started     time.Time
	finished    time.Time
	runAt       time.Time

	worker   *worker       // worker running the current attempt, nil otherwise
	lane     *lane         // lane whose heap holds the task while it is queued
	queuePos int           // position in that lane's taskQueue
	late     bool          // in the late heap of its taskQueue level, not its fifo
	orphan   bool          // running before a restart; no worker has claimed it yet
	lostFrom string        // worker whose loss requeued the task and counted a failure
	done     chan struct{} // closed when the task becomes final; nil until a waiter asks
	dirty    bool          // changed since last persisted
	pending  bool          // submitted, not yet stored: invisible to callers and dispatch
}

func (t *task) snapshot() Task {
	return Task{
		ID:          t.id,
		Type:        t.typ,
		Queue:       t.queue,
		Priority:    t.priority,
		Status:      t.status,
		Key:         t.key,
		PayloadSize: len(t.payload),
		Attempts:    int(t.attempt),
		Failures:    int(t.failures),
		MaxAttempts: int(t.maxAttempts),
		Timeout:     t.timeout,
		Worker:      t.workerName,
		Output:      t.output,
		Error:       t.errMsg,
		Created:     t.created,
		Started:     t.started,
		Finished:    t.finished,
		RunAt:       t.runAt,
	}
}

func (t *task) record() *store.Record {
	return &store.Record{
		ID:          t.id,
		Seq:         t.seq,
		Type:        t.typ,
		Payload:     t.payload,
		Key:         t.key,
		Status:      string(t.status),
		Attempt:     t.attempt,
		Failures:    t.failures,
		MaxAttempts: t.maxAttempts,
		Timeout:     int64(t.timeout),
		Worker:      t.workerName,
		Output:      t.output,
		Error:       t.errMsg,
		Created:     unixNano(t.created),
		Started:     unixNano(t.started),
		Finished:    unixNano(t.finished),
		RunAt:       unixNano(t.runAt),
		Queue:       t.queue,
		Priority:    int64(t.priority),
	}
}

// taskFromRecord rebuilds a task. Records written before queues existed
// have no queue and land in DefaultQueue.
func taskFromRecord(r *store.Record) *task {
	t := &task{
		id:          r.ID,
		seq:         r.Seq,
		typ:         r.Type,
		payload:     r.Payload,
		key:         r.Key,
		status:      Status(r.Status),
		attempt:     r.Attempt,
		failures:    r.Failures,
		maxAttempts: r.MaxAttempts,
		timeout:     time.Duration(r.Timeout),
		workerName:  r.Worker,
		output:      r.Output,
		errMsg:      r.Error,
		created:     fromUnixNano(r.Created),
		started:     fromUnixNano(r.Started),
		finished:    fromUnixNano(r.Finished),
		runAt:       fromUnixNano(r.RunAt),
		queue:       r.Queue,
		priority:    int(r.Priority),
	}
	if t.queue == "" {
		t.queue = DefaultQueue
	}
	return t
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// idAlphabet is base32hex in lower case: ids of equal length sort in the
// order of their sequence numbers.
const idAlphabet = "0123456789abcdefghijklmnopqrstuv"

// formatID renders a sequence number as a 13-character id.
func formatID(seq uint64) string {
	var b [13]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = idAlphabet[seq&31]
		seq >>= 5
	}
	return string(b[:])
}
