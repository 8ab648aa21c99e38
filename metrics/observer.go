package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbd-dev/lbd/scheduler"
)

// durationBuckets are the upper bounds, in seconds, of the task duration
// and queue wait histograms: 5 ms to about 45 min.
var durationBuckets = prometheus.ExponentialBuckets(0.005, 3, 13)

// taskMetrics are the per-type task counters and histograms.
type taskMetrics struct {
	submitted *prometheus.CounterVec
	started   *prometheus.CounterVec
	succeeded *prometheus.CounterVec
	failed    *prometheus.CounterVec
	retried   *prometheus.CounterVec
	canceled  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	queueWait *prometheus.HistogramVec
}

func newTaskMetrics() *taskMetrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"type"})
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets}, []string{"type"})
	}
	return &taskMetrics{
		submitted: counter("lbd_tasks_submitted_total", "Tasks accepted and stored by the master."),
		started:   counter("lbd_tasks_started_total", "Attempts handed to a worker slot."),
		succeeded: counter("lbd_tasks_succeeded_total", "Tasks that ended succeeded."),
		failed:    counter("lbd_tasks_failed_total", "Tasks that ended failed with no attempt left."),
		retried:   counter("lbd_tasks_retried_total", "Failed or lost attempts that were followed by another attempt."),
		canceled:  counter("lbd_tasks_canceled_total", "Tasks canceled by request."),
		duration: histogram("lbd_task_duration_seconds",
			"Run time of the last attempt of tasks that ended succeeded or failed."),
		queueWait: histogram("lbd_task_queue_wait_seconds",
			"Time from submit to the start of the first attempt."),
	}
}

func (m *taskMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.submitted, m.started, m.succeeded, m.failed, m.retried, m.canceled, m.duration, m.queueWait}
}

// TypeObserver returns the metric children of one task type. The scheduler
// calls it once per type and keeps the result.
func (m *taskMetrics) TypeObserver(typ string) scheduler.TypeObserver {
	return &typeMetrics{
		submitted: m.submitted.WithLabelValues(typ),
		started:   m.started.WithLabelValues(typ),
		succeeded: m.succeeded.WithLabelValues(typ),
		failed:    m.failed.WithLabelValues(typ),
		retried:   m.retried.WithLabelValues(typ),
		canceled:  m.canceled.WithLabelValues(typ),
		duration:  m.duration.WithLabelValues(typ),
		queueWait: m.queueWait.WithLabelValues(typ),
	}
}

// typeMetrics are the metric children of one task type. Each event is one
// atomic update, without a label lookup.
type typeMetrics struct {
	submitted, started, succeeded, failed, retried, canceled prometheus.Counter
	duration, queueWait                                      prometheus.Observer
}

func (t *typeMetrics) Submitted() { t.submitted.Inc() }

func (t *typeMetrics) Started(queueWait time.Duration) {
	t.started.Inc()
	if queueWait >= 0 {
		t.queueWait.Observe(queueWait.Seconds())
	}
}

func (t *typeMetrics) Retried() { t.retried.Inc() }

func (t *typeMetrics) Finished(status scheduler.Status, runTime time.Duration) {
	switch status {
	case scheduler.StatusSucceeded:
		t.succeeded.Inc()
		t.duration.Observe(runTime.Seconds())
	case scheduler.StatusFailed:
		t.failed.Inc()
		t.duration.Observe(runTime.Seconds())
	case scheduler.StatusCanceled:
		t.canceled.Inc()
	}
}
