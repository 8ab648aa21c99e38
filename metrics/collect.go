package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	queueDepthDesc = prometheus.NewDesc("lbd_queue_depth",
		"Tasks waiting for a slot, retrying tasks included.", nil, nil)
	queueBytesDesc = prometheus.NewDesc("lbd_queue_bytes",
		"Payload bytes of queued and retrying tasks.", nil, nil)
	runningDesc = prometheus.NewDesc("lbd_tasks_running",
		"Attempts running on workers.", nil, nil)
	slotsDesc = prometheus.NewDesc("lbd_worker_slots",
		"Slots of a connected worker.", []string{"worker"}, nil)
	busyDesc = prometheus.NewDesc("lbd_worker_busy_slots",
		"Slots of a connected worker that run an attempt.", []string{"worker"}, nil)
	staleDesc = prometheus.NewDesc("lbd_stale_results_total",
		"Results of written-off attempts that the master dropped.", nil, nil)
	membersDesc = prometheus.NewDesc("lbd_members",
		"Gossip members this node sees, by state.", []string{"state"}, nil)
	gossipErrsDesc = prometheus.NewDesc("lbd_gossip_errors_total",
		"Error lines logged by the gossip layer (memberlist).", nil, nil)
	connErrsDesc = prometheus.NewDesc("lbd_task_connection_errors_total",
		"Task connections that were rejected or ended with an error.", nil, nil)
	fsyncDesc = prometheus.NewDesc("lbd_store_fsync_seconds",
		"Time that the last store commit spent writing pages and in fdatasync.", nil, nil)
	fsyncMaxDesc = prometheus.NewDesc("lbd_store_fsync_max_seconds",
		"Longest time a store commit spent writing pages and in fdatasync.", nil, nil)
	commitsDesc = prometheus.NewDesc("lbd_store_commits_total",
		"Store transactions committed.", nil, nil)
	// lbd_queue_depth keeps its unlabeled meaning (all queues), so the
	// per-queue figures have names of their own.
	queueTasksDesc = prometheus.NewDesc("lbd_queue_tasks",
		"Tasks of one named queue by state: queued (waiting for a slot), delayed (scheduled or retrying) or running.",
		[]string{"queue", "state"}, nil)
	queuePausedDesc = prometheus.NewDesc("lbd_queue_paused",
		"1 while a named queue is paused, else 0.", []string{"queue"}, nil)
)

// masterCollector reads the master's gauges when Prometheus scrapes.
type masterCollector struct {
	src MasterSources
	m   *Master
}

func (c *masterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDepthDesc, queueBytesDesc, runningDesc, slotsDesc, busyDesc,
		staleDesc, membersDesc, gossipErrsDesc, connErrsDesc, fsyncDesc, fsyncMaxDesc, commitsDesc,
		queueTasksDesc, queuePausedDesc} {
		ch <- d
	}
}

func (c *masterCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}

	if c.src.Stats != nil {
		st := c.src.Stats()
		gauge(queueDepthDesc, float64(st.Queued+st.Retrying))
		gauge(queueBytesDesc, float64(st.QueuedBytes))
		gauge(runningDesc, float64(st.Running))
		counter(staleDesc, float64(st.StaleResults))
	}
	if c.src.Workers != nil {
		for _, w := range c.src.Workers() {
			gauge(slotsDesc, float64(w.Slots), w.Name)
			gauge(busyDesc, float64(w.Busy), w.Name)
		}
	}
	if c.src.Queues != nil {
		for _, q := range c.src.Queues() {
			gauge(queueTasksDesc, float64(q.Queued), q.Name, "queued")
			gauge(queueTasksDesc, float64(q.Delayed), q.Name, "delayed")
			gauge(queueTasksDesc, float64(q.Running), q.Name, "running")
			paused := 0.0
			if q.Paused {
				paused = 1
			}
			gauge(queuePausedDesc, paused, q.Name)
		}
	}
	if c.src.Members != nil {
		for state, n := range c.src.Members() {
			gauge(membersDesc, float64(n), state)
		}
	}
	if c.src.Store != nil {
		st := c.src.Store()
		gauge(fsyncDesc, st.LastSync.Seconds())
		gauge(fsyncMaxDesc, st.MaxSync.Seconds())
		counter(commitsDesc, float64(st.Commits))
	}
	counter(gossipErrsDesc, float64(c.m.gossipErrs.Load()))
	counter(connErrsDesc, float64(c.m.connErrs.Load()))
}
