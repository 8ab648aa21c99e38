package metrics

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

// MasterSources are the parts of a master that the gauges are read from at
// scrape time. A nil field leaves its metrics out.
type MasterSources struct {
	Stats   func() scheduler.Stats
	Workers func() []scheduler.Worker
	// Members returns the number of gossip members by state.
	Members func() map[string]int
	// Store returns the store's commit timings; nil for an in-memory store.
	Store func() store.Stats
	// Queues returns the named queues.
	Queues func() []scheduler.Queue
}

// Master holds the metrics of a master node. It implements
// scheduler.Observer and http.Handler. Its methods are safe for concurrent
// use.
type Master struct {
	*taskMetrics
	reg        *prometheus.Registry
	handler    http.Handler
	gossipErrs atomic.Uint64
	connErrs   atomic.Uint64
}

var _ scheduler.Observer = (*Master)(nil)

// NewMaster registers the master's metrics, the Go runtime's and the
// process's in a registry of their own.
func NewMaster(src MasterSources) *Master {
	m := &Master{taskMetrics: newTaskMetrics(), reg: prometheus.NewRegistry()}
	m.reg.MustRegister(m.taskMetrics.collectors()...)
	m.reg.MustRegister(&masterCollector{src: src, m: m})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// GossipError counts one error that the gossip layer logged.
func (m *Master) GossipError() { m.gossipErrs.Add(1) }

// TaskConnectionError counts one task connection that was rejected or
// ended with an error.
func (m *Master) TaskConnectionError() { m.connErrs.Add(1) }

// ServeHTTP serves the metrics in the Prometheus text format.
func (m *Master) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}
