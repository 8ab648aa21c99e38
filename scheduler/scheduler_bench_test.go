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

// BenchmarkSubmitAssignComplete measures one task's way through the
// scheduler with an in-memory store: Submit, the Assign to an idle worker,
// and Complete with the echoed payload.
func BenchmarkSubmitAssignComplete(b *testing.B) {
	for _, workers := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s, err := New(Config{
				MaxAttempts:     3,
				TaskTimeout:     time.Minute,
				MaxQueuedTasks:  1 << 20,
				MaxQueuedBytes:  1 << 30,
				MaxPayloadBytes: 1 << 20,
				ResultRetention: time.Minute,
				Store:           store.NewMemory(),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Stop()

			var pending []benchAssignment
			for i := range workers {
				snd := &benchSender{out: &pending}
				h, _, err := s.AddWorker(WorkerSpec{Name: fmt.Sprintf("w%05d", i), Addr: "127.0.0.1:1", Slots: 1, Types: []string{"echo"}}, snd)
				if err != nil {
					b.Fatal(err)
				}
				snd.handle = h
			}

			specs := []Spec{{Type: "echo", Payload: bytes.Repeat([]byte("p"), 100)}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Submit(specs); err != nil {
					b.Fatal(err)
				}
				if len(pending) != 1 {
					b.Fatalf("got %d assignments after one submit, expected 1", len(pending))
				}
				p := pending[0]
				pending = pending[:0]
				s.Complete(p.handle, Result{ID: p.a.ID, Attempt: p.a.Attempt, OK: true, Output: p.a.Payload})
			}
		})
	}
}

// BenchmarkAssignFromBacklog measures one Complete that frees a slot, the
// assignment it triggers and the Submit that keeps the backlog. The backlog
// is 10,000 queued tasks over 100 queues, and each of the 1,000 busy
// workers serves three queues with weights 6, 3 and 1.
func BenchmarkAssignFromBacklog(b *testing.B) {
	const queues, workers, backlog = 100, 1000, 10_000
	s, err := New(Config{
		MaxAttempts:     3,
		TaskTimeout:     time.Minute,
		MaxQueuedTasks:  1 << 20,
		MaxQueuedBytes:  1 << 30,
		MaxPayloadBytes: 1 << 20,
		ResultRetention: time.Minute,
		Store:           store.NewMemory(),
	})
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
