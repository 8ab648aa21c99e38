package scheduler

import (
	"time"

	"github.com/lbd-dev/lbd/store"
)

// task is the scheduler's own record of a task. Every field is guarded by
// Scheduler.mu. The fields that a queued task rarely needs live in a
// taskRun, allocated on the first write to one of them, so that a queued
// task costs less memory.
type task struct {
	id          string
	seq         uint64
	typ         string
	queue       string
	payload     []byte
	status      Status
	timeout     time.Duration
	created     time.Time
	priority    int
	attempt     uint32 // last attempt handed out
	failures    uint32 // attempts that counted against maxAttempts
	maxAttempts uint32

	worker   *worker // worker running the current attempt, nil otherwise
	lane     *lane   // lane whose taskQueue holds the task while it is queued
	more     *taskRun
	queuePos int  // position in that lane's taskQueue
	late     bool // in the late heap of its taskQueue level, not its fifo
	orphan   bool // running before a restart; no worker has claimed it yet
	dirty    bool // changed since last persisted
	pending  bool // submitted, not yet stored: invisible to callers and dispatch
}

// taskRun holds the fields of a task that are set once it has a key, a run
// time, an attempt, a waiter or an end.
type taskRun struct {
	key        string
	workerName string
	output     []byte
	errMsg     string
	lostFrom   string        // worker whose loss requeued the task and counted a failure
	done       chan struct{} // closed when the task becomes final; nil until a caller waits
	started    time.Time
	finished   time.Time
	runAt      time.Time
}

// noRun is the zero taskRun that info returns for a task without one.
// Nothing may write to it.
var noRun taskRun

// info returns the task's taskRun for reading.
func (t *task) info() *taskRun {
	if t.more == nil {
		return &noRun
	}
	return t.more
}

// edit returns the task's taskRun for writing and allocates it on first use.
func (t *task) edit() *taskRun {
	if t.more == nil {
		t.more = new(taskRun)
	}
	return t.more
}

func (t *task) snapshot() Task {
	r := t.info()
	return Task{
		ID:          t.id,
		Type:        t.typ,
		Queue:       t.queue,
		Priority:    t.priority,
		Status:      t.status,
		Key:         r.key,
		PayloadSize: len(t.payload),
		Attempts:    int(t.attempt),
		Failures:    int(t.failures),
		MaxAttempts: int(t.maxAttempts),
		Timeout:     t.timeout,
		Worker:      r.workerName,
		Output:      r.output,
		Error:       r.errMsg,
		Created:     t.created,
		Started:     r.started,
		Finished:    r.finished,
		RunAt:       r.runAt,
	}
}

func (t *task) record() *store.Record {
	r := t.info()
	return &store.Record{
		ID:          t.id,
		Seq:         t.seq,
		Type:        t.typ,
		Payload:     t.payload,
		Key:         r.key,
		Status:      string(t.status),
		Attempt:     t.attempt,
		Failures:    t.failures,
		MaxAttempts: t.maxAttempts,
		Timeout:     int64(t.timeout),
		Worker:      r.workerName,
		Output:      r.output,
		Error:       r.errMsg,
		Created:     unixNano(t.created),
		Started:     unixNano(r.started),
		Finished:    unixNano(r.finished),
		RunAt:       unixNano(r.runAt),
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
		status:      Status(r.Status),
		attempt:     r.Attempt,
		failures:    r.Failures,
		maxAttempts: r.MaxAttempts,
		timeout:     time.Duration(r.Timeout),
		created:     fromUnixNano(r.Created),
		queue:       r.Queue,
		priority:    int(r.Priority),
	}
	if r.Key != "" || r.Worker != "" || r.Output != nil || r.Error != "" ||
		r.Started != 0 || r.Finished != 0 || r.RunAt != 0 {
		t.more = &taskRun{
			key:        r.Key,
			workerName: r.Worker,
			output:     r.Output,
			errMsg:     r.Error,
			started:    fromUnixNano(r.Started),
			finished:   fromUnixNano(r.Finished),
			runAt:      fromUnixNano(r.RunAt),
		}
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
