package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/lbd-dev/lbd/scheduler"
)

// Defaults of the master's history: a sample every 2 s for 10 min.
const (
	DefaultHistoryInterval = 2 * time.Second
	DefaultHistorySamples  = 300
)

// History is a ring of samples of the scheduler's gauges and counters that
// GET /v1/history serves to the status page's charts. It is safe for
// concurrent use.
type History struct {
	stats    func() scheduler.Stats
	interval time.Duration

	mu    sync.Mutex
	ring  []Sample
	next  int // index of the slot the next sample overwrites
	count int
}

// NewHistory returns a History that keeps size samples taken every
// interval from stats once Run runs. Zero arguments take the defaults.
func NewHistory(stats func() scheduler.Stats, interval time.Duration, size int) *History {
	if interval <= 0 {
		interval = DefaultHistoryInterval
	}
	if size <= 0 {
		size = DefaultHistorySamples
	}
	return &History{stats: stats, interval: interval, ring: make([]Sample, size)}
}

// Run takes a sample at once and then every interval until ctx ends.
func (h *History) Run(ctx context.Context) {
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()
	for {
		h.Record(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Record takes one sample at the given time.
func (h *History) Record(at time.Time) {
	st := h.stats()
	s := Sample{
		At:        at.UTC(),
		Queued:    st.Queued + st.Retrying,
		Running:   st.Running,
		Workers:   st.Workers,
		Slots:     st.Slots,
		BusySlots: st.BusySlots,
		Succeeded: st.Succeeded,
		Failed:    st.Failed,
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	h.count = min(h.count+1, len(h.ring))
}

// Samples returns the samples, oldest first.
func (h *History) Samples() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Sample, 0, h.count)
	start := (h.next - h.count + len(h.ring)) % len(h.ring)
	for i := range h.count {
		out = append(out, h.ring[(start+i)%len(h.ring)])
	}
	return out
}

// getHistory serves GET /v1/history.
func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) error {
	if s.opts.History == nil {
		s.writeJSON(w, r, http.StatusOK, HistoryResponse{Interval: DefaultHistoryInterval.String(), Samples: []Sample{}})
		return nil
	}
	s.writeJSON(w, r, http.StatusOK, HistoryResponse{
		Interval: s.opts.History.interval.String(),
		Samples:  s.opts.History.Samples(),
	})
	return nil
}
