package scheduler

import (
	"runtime"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// BenchmarkQueuedTaskMemory reports the live heap per queued task with a
// 100-byte payload: 100,000 tasks submitted in batches of 250 like the API
// does, no worker, after a garbage collection.
func BenchmarkQueuedTaskMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		s, err := New(Config{
			MaxAttempts:     3,
			TaskTimeout:     time.Minute,
			MaxQueuedTasks:  1 << 22,
			MaxQueuedBytes:  1 << 34,
			MaxPayloadBytes: 1 << 20,
			Store:           store.NewMemory(),
		})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i += 250 {
			specs := make([]Spec, 250)
			for j := range specs {
				specs[j] = Spec{Type: string([]byte("echo")), Payload: make([]byte, 100)}
			}
			if _, err := s.Submit(specs); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/task")
		s.Stop()
	}
}
