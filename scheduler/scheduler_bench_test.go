package scheduler

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// benchAssignment is one Assign call that the benchmark still has to
// complete, with the worker it went to.
type benchAssignment struct {
	handle *WorkerHandle
	a      Assignment
}

// benchSender queues every assignment of its worker on a list shared by all
// workers and completes nothing itself. The scheduler calls it with its lock
// held, and the benchmark reads the list between calls, so it needs no lock.
type benchSender struct {
	handle *WorkerHandle
	out    *[]benchAssignment
}

func (s *benchSender) Assign(a Assignment) {
	*s.out = append(*s.out, benchAssignment{handle: s.handle, a: a})
}

func (s *benchSender) Cancel(string, uint32) {}

// benchConfig is the scheduler configuration of the benchmarks: an
// in-memory store and limits that a backlog of 10,000 tasks stays under.
func benchConfig() Config {
	return Config{
		MaxAttempts:     3,
		TaskTimeout:     time.Minute,
		MaxQueuedTasks:  1 << 20,
		MaxQueuedBytes:  1 << 30,
		MaxPayloadBytes: 1 << 20,
		ResultRetention: time.Minute,
		Store:           store.NewMemory(),
	}
}

// BenchmarkSubmitAssignComplete measures one task's way through the
// scheduler with an in-memory store: Submit, the Assign, and Complete with
// the echoed payload. Every worker serves every queue with weight 1, as in
// lbd-bench's -queues runs.
//
// Without a backlog, each worker has one slot and each Submit goes to an
// idle worker at once. With a backlog every slot is busy: each iteration
// submits one task to the next queue in turn and completes the oldest
// running attempt, whose freed slot takes the next task of the backlog.
// Cases with 1 and 100 queues differ only in the number of queues, so the
// gap between them is the cost of the queues. The 2x64 cases have the
// shape of lbd-bench's cluster: 2 workers with 64 slots each.
func BenchmarkSubmitAssignComplete(b *testing.B) {
	cases := []struct {
		workers, slots, queues, backlog int
	}{
		{workers: 10, slots: 1, queues: 1},
		{workers: 10_000, slots: 1, queues: 1},
		{workers: 1000, slots: 1, queues: 1, backlog: 10_000},
		{workers: 1000, slots: 1, queues: 100, backlog: 10_000},
		{workers: 2, slots: 64, queues: 1, backlog: 10_000},
		{workers: 2, slots: 64, queues: 100, backlog: 10_000},
	}
	for _, c := range cases {
		name := fmt.Sprintf("workers=%d", c.workers)
		if c.backlog > 0 {
			name = fmt.Sprintf("queues=%d/workers=%dx%d/backlog=%d", c.queues, c.workers, c.slots, c.backlog)
		}
		b.Run(name, func(b *testing.B) {
			benchSubmitAssignComplete(b, c.workers, c.slots, c.queues, c.backlog)
		})
	}
}

func benchSubmitAssignComplete(b *testing.B, workers, slots, queues, backlog int) {
	s, err := New(benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()

	names := []string{DefaultQueue}
	if queues > 1 {
		names = make([]string, queues)
		for i := range names {
			names[i] = fmt.Sprintf("q%d", i)
		}
	}
	served := make([]QueueWeight, queues)
	for i := range served {
		served[i] = QueueWeight{Name: names[i], Weight: 1}
	}
	var pending []benchAssignment
	for i := range workers {
		snd := &benchSender{out: &pending}
		h, _, err := s.AddWorker(WorkerSpec{Name: fmt.Sprintf("w%05d", i), Addr: "127.0.0.1:1", Slots: slots,
			Types: []string{"echo"}, Queues: served}, snd)
		if err != nil {
			b.Fatal(err)
		}
		snd.handle = h
	}

	payload := bytes.Repeat([]byte("p"), 100)
	next := 0
	specOf := func() []Spec {
		next++
		return []Spec{{Type: "echo", Queue: names[next%queues], Payload: payload}}
	}
	if backlog > 0 {
		specs := make([]Spec, workers*slots+backlog)
		for i := range specs {
			specs[i] = specOf()[0]
		}
		if _, err := s.Submit(specs); err != nil {
			b.Fatal(err)
		}
		if len(pending) != workers*slots {
			b.Fatalf("got %d assignments for %d idle slots, expected one each", len(pending), workers*slots)
		}
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Submit(specOf()); err != nil {
			b.Fatal(err)
		}
		if backlog == 0 && len(pending) != 1 {
			b.Fatalf("got %d assignments after one submit, expected 1", len(pending))
		}
		p := pending[0]
		pending = pending[1:]
		s.Complete(p.handle, Result{ID: p.a.ID, Attempt: p.a.Attempt, OK: true, Output: p.a.Payload})
		if backlog > 0 && len(pending) != workers*slots {
			b.Fatalf("got %d running attempts after a completion with a backlog, expected %d", len(pending), workers*slots)
		}
	}
}

// BenchmarkAssignFromBacklog measures one Complete that frees a slot, the
// assignment it triggers and the Submit that keeps the backlog. The backlog
// is 10,000 queued tasks over 100 queues, and each of the 1,000 busy
// workers serves three queues with weights 6, 3 and 1.
func BenchmarkAssignFromBacklog(b *testing.B) {
	const queues, workers, backlog = 100, 1000, 10_000
	s, err := New(benchConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()

	queueName := func(i int) string { return fmt.Sprintf("q%03d", i%queues) }
	specs := make([]Spec, backlog+workers)
	for i := range specs {
		specs[i] = Spec{Type: "echo", Queue: queueName(i), Priority: i % 7}
	}
	var pending []benchAssignment
	for i := range workers {
		snd := &benchSender{out: &pending}
		qs := []QueueWeight{{queueName(i), 6}, {queueName(i + 1), 3}, {queueName(i + 2), 1}}
		h, _, err := s.AddWorker(WorkerSpec{Name: fmt.Sprintf("w%05d", i), Addr: "127.0.0.1:1", Slots: 1,
			Types: []string{"echo"}, Queues: qs}, snd)
		if err != nil {
			b.Fatal(err)
		}
		snd.handle = h
	}
	if _, err := s.Submit(specs); err != nil {
		b.Fatal(err)
	}
	if len(pending) != workers {
		b.Fatalf("got %d assignments for %d idle workers, expected one each", len(pending), workers)
	}

	next := 0
	b.ReportAllocs()
	for b.Loop() {
		p := pending[0]
		pending = pending[1:]
		s.Complete(p.handle, Result{ID: p.a.ID, Attempt: p.a.Attempt, OK: true})
		if len(pending) == 0 {
			b.Fatal("a completed slot got no new task from the backlog")
		}
		next++
		if _, err := s.Submit([]Spec{{Type: "echo", Queue: queueName(next), Priority: next % 7}}); err != nil {
			b.Fatal(err)
		}
	}
}
