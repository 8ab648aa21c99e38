package metrics

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbd-dev/lbd/worker"
)

var (
	workerCompletedDesc = prometheus.NewDesc("lbd_worker_tasks_succeeded_total",
		"Attempts that succeeded on this worker.", []string{"worker"}, nil)
	workerFailedDesc = prometheus.NewDesc("lbd_worker_tasks_failed_total",
		"Attempts that failed, timed out or were canceled on this worker.", []string{"worker"}, nil)
	workerConnectedDesc = prometheus.NewDesc("lbd_worker_connected",
		"1 while a master has welcomed the worker's task connection, else 0.", []string{"worker"}, nil)
)

// WorkerSources are the parts of a worker node that its metrics are read
// from at scrape time.
type WorkerSources struct {
	Node    string
	Stats   func() worker.Stats
	Members func() map[string]int // nil leaves lbd_members out
}

// Worker holds the metrics of a worker node and serves them, with a health
// check, over HTTP. It is safe for concurrent use.
type Worker struct {
	src        WorkerSources
	reg        *prometheus.Registry
	mux        *http.ServeMux
	gossipErrs atomic.Uint64
}

// NewWorker registers a worker's metrics, the Go runtime's and the
// process's in a registry of their own.
func NewWorker(src WorkerSources) *Worker {
	w := &Worker{src: src, reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	w.reg.MustRegister(&workerCollector{w: w})
	w.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	w.mux.Handle("GET /metrics", promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{}))
	w.mux.HandleFunc("GET /healthz", w.serveHealth)
	return w
}

// GossipError counts one error that the gossip layer logged.
func (w *Worker) GossipError() { w.gossipErrs.Add(1) }

// ServeHTTP serves GET /metrics and GET /healthz.
func (w *Worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mux.ServeHTTP(rw, r)
}

// WorkerHealth is the body of a worker's GET /healthz.
type WorkerHealth struct {
	Status    string `json:"status"` // "ok", or "disconnected" with status 503
	Node      string `json:"node"`
	Master    string `json:"master,omitempty"`
	Slots     int    `json:"slots"`
	Running   int    `json:"running"`
	Connected bool   `json:"connected"`
}

// serveHealth returns 200 while a master has welcomed the worker's task
// connection, else 503, so that a load balancer or an orchestrator sees a
// worker that cannot get tasks.
func (w *Worker) serveHealth(rw http.ResponseWriter, _ *http.Request) {
	st := w.src.Stats()
	h := WorkerHealth{Status: "ok", Node: w.src.Node, Master: st.Master, Slots: st.Slots, Running: st.Running, Connected: st.Connected}
	code := http.StatusOK
	if !st.Connected {
		h.Status = "disconnected"
		code = http.StatusServiceUnavailable
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	json.NewEncoder(rw).Encode(h)
}

// workerCollector reads a worker's gauges when Prometheus scrapes.
type workerCollector struct {
	w *Worker
}

func (c *workerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{slotsDesc, busyDesc, workerCompletedDesc, workerFailedDesc,
		workerConnectedDesc, membersDesc, gossipErrsDesc} {
		ch <- d
	}
}

func (c *workerCollector) Collect(ch chan<- prometheus.Metric) {
	node := c.w.src.Node
	st := c.w.src.Stats()
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(st.Slots), node)
	ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.GaugeValue, float64(st.Running), node)
	ch <- prometheus.MustNewConstMetric(workerCompletedDesc, prometheus.CounterValue, float64(st.Completed), node)
	ch <- prometheus.MustNewConstMetric(workerFailedDesc, prometheus.CounterValue, float64(st.Failed), node)
	ch <- prometheus.MustNewConstMetric(workerConnectedDesc, prometheus.GaugeValue, connected, node)
	if c.w.src.Members != nil {
		for state, n := range c.w.src.Members() {
			ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(n), state)
		}
	}
	ch <- prometheus.MustNewConstMetric(gossipErrsDesc, prometheus.CounterValue, float64(c.w.gossipErrs.Load()))
}
