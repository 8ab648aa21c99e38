package metrics

import (
	"bytes"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

// directSender completes nothing; the benchmark reads its last assignment.
type directSender struct{ last scheduler.Assignment }

func (d *directSender) Assign(a scheduler.Assignment) { d.last = a }
func (d *directSender) Cancel(string, uint32)         {}

// BenchmarkObserverOverhead compares a task's way through the scheduler
// (submit, assign, complete) without metrics and with the Prometheus
// observer that the master uses.
func BenchmarkObserverOverhead(b *testing.B) {
	for _, tc := range []struct {
		name string
		obs  scheduler.Observer
	}{{"none", nil}, {"prometheus", newTaskMetrics()}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := scheduler.New(scheduler.Config{
				MaxAttempts: 3, TaskTimeout: time.Minute,
				MaxQueuedTasks: 1 << 20, MaxQueuedBytes: 1 << 30, MaxPayloadBytes: 1 << 20,
				ResultRetention: time.Minute, Store: store.NewMemory(), Observer: tc.obs,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Stop()
			snd := &directSender{}
			h, _, err := s.AddWorker(scheduler.WorkerSpec{Name: "w", Slots: 1, Types: []string{"echo"}}, snd)
			if err != nil {
				b.Fatal(err)
			}
			specs := []scheduler.Spec{{Type: "echo", Payload: bytes.Repeat([]byte("p"), 100)}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Submit(specs); err != nil {
					b.Fatal(err)
				}
				s.Complete(h, scheduler.Result{ID: snd.last.ID, Attempt: snd.last.Attempt, OK: true})
			}
		})
	}
}
