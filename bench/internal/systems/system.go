// Package systems starts each task system under test on loopback (lbd,
// gearmand, beanstalkd, NATS JetStream) and drives it through one interface:
// workers that echo a job's payload, submitters that send jobs, and a wait
// for every result.
package systems

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/proc"
)

// System is one started task system with its store empty.
type System interface {
	// Name returns the system and its mode, such as "beanstalkd durable".
	Name() string

	// StartWorkers starts workers that each run slots jobs at once and
	// answer each job with its payload. They record start and finish times
	// in the Recorder given at start, except lbd's workers, whose times come
	// from the master.
	StartWorkers(ctx context.Context, workers, slots int) error

	// NewSubmitter opens one client. Each submitter is used by one goroutine.
	NewSubmitter(ctx context.Context) (Submitter, error)

	// WaitDone blocks until n results are back in total since start.
	WaitDone(ctx context.Context, n int) error

	// Close stops workers, clients and servers and removes their files.
	Close()
}

// Submitter sends jobs to a System.
type Submitter interface {
	// Submit sends jobs first to first+count-1 and returns once the system
	// accepted all of them (for a durable system: stored them).
	Submit(ctx context.Context, first, count int) error
	Close() error
}

// TimeFetcher is a System whose per-job start and finish times come from
// the system itself; FetchTimes fills them into the Recorder.
type TimeFetcher interface {
	FetchTimes(ctx context.Context, first, count int) error
}

// Options configure a System at start.
type Options struct {
	Durable bool      // store jobs on disk with an fsync per write or commit
	Dir     string    // directory for the system's files, removed by Close
	Rec     *Recorder // per-job times; sized for the job indexes the run uses
	LBD     string    // path of the lbd binary (lbd only)
}

// Factory starts a System.
type Factory func(ctx context.Context, opts Options) (System, error)

// PayloadSize is the size of every job's payload in bytes.
const PayloadSize = 100

// indexDigits is the width of the decimal job index that opens a payload.
const indexDigits = 10

// Payload returns job i's payload: its index in decimal, zero-padded, then
// filler up to PayloadSize bytes. The payload is ASCII, so it travels as a
// JSON string to lbd and unchanged to the others.
func Payload(i int) []byte {
	b := make([]byte, PayloadSize)
	AppendPayload(b[:0], i)
	return b
}

// AppendPayload appends job i's payload to b.
func AppendPayload(b []byte, i int) []byte {
	start := len(b)
	b = fmt.Appendf(b, "%0*d", indexDigits, i)
	for len(b)-start < PayloadSize {
		b = append(b, 'x')
	}
	return b
}

// PayloadIndex returns the job index that p opens with.
func PayloadIndex(p []byte) (int, error) {
	if len(p) < indexDigits {
		return 0, fmt.Errorf("payload of %d bytes is shorter than the %d-digit job index", len(p), indexDigits)
	}
	i, err := strconv.Atoi(string(p[:indexDigits]))
	if err != nil {
		return 0, fmt.Errorf("payload does not open with a job index: %w", err)
	}
	return i, nil
}

// Recorder keeps each job's submit, start and finish times as wall-clock
// Unix nanoseconds (every system runs on this machine, so one clock serves
// all), and counts finished jobs.
type Recorder struct {
	submit, start, finish []atomic.Int64
	finished              atomic.Int64
}

// NewRecorder returns a Recorder for job indexes 0 to n-1.
func NewRecorder(n int) *Recorder {
	return &Recorder{
		submit: make([]atomic.Int64, n),
		start:  make([]atomic.Int64, n),
		finish: make([]atomic.Int64, n),
	}
}

// Len returns the number of job indexes the Recorder has room for.
func (r *Recorder) Len() int { return len(r.submit) }

// Submitted records that jobs first to first+count-1 were sent at t.
func (r *Recorder) Submitted(first, count int, t time.Time) {
	ns := t.UnixNano()
	for i := first; i < first+count && i < len(r.submit); i++ {
		r.submit[i].Store(ns)
	}
}

// Started records job i's start at t.
func (r *Recorder) Started(i int, t time.Time) {
	if i >= 0 && i < len(r.start) {
		r.start[i].Store(t.UnixNano())
	}
}

// Finished records job i's result at t and counts it.
func (r *Recorder) Finished(i int, t time.Time) {
	if i >= 0 && i < len(r.finish) {
		r.finish[i].Store(t.UnixNano())
	}
	r.finished.Add(1)
}

// SetTimes records a job's start and finish as the system reported them,
// without counting it.
func (r *Recorder) SetTimes(i int, start, finish time.Time) {
	if i >= 0 && i < len(r.start) {
		r.start[i].Store(start.UnixNano())
		r.finish[i].Store(finish.UnixNano())
	}
}

// FinishedCount returns the number of jobs recorded as finished.
func (r *Recorder) FinishedCount() int { return int(r.finished.Load()) }

// Latencies returns, for jobs first to first+count-1 that have all three
// times, submit-to-start and submit-to-finish durations.
func (r *Recorder) Latencies(first, count int) (toStart, toFinish []time.Duration) {
	for i := first; i < first+count && i < len(r.submit); i++ {
		s, st, f := r.submit[i].Load(), r.start[i].Load(), r.finish[i].Load()
		if s == 0 || st == 0 || f == 0 {
			continue
		}
		toStart = append(toStart, time.Duration(max(st-s, 0)))
		toFinish = append(toFinish, time.Duration(max(f-s, 0)))
	}
	return toStart, toFinish
}

// waitCount polls until count() reaches n or ctx ends.
func waitCount(ctx context.Context, n int, count func() (int, error)) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		got, err := count()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d results, %d back: %w", n, got, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// ProcessHolder is a System that runs processes of its own besides the
// benchmark's. The benchmark adds their CPU time to its own when it
// reports CPU per task.
type ProcessHolder interface {
	Processes() []*proc.Proc
}

// Processes returns gearmand's process.
func (g *Gearman) Processes() []*proc.Proc { return []*proc.Proc{g.p} }

// Processes returns beanstalkd's process.
func (b *Beanstalk) Processes() []*proc.Proc { return []*proc.Proc{b.p} }

// Processes returns the master's and the workers' processes.
func (l *LBD) Processes() []*proc.Proc { return append([]*proc.Proc{l.Master}, l.Workers()...) }
