package api

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/lbd-dev/lbd/scheduler"
)

func taskFromScheduler(t scheduler.Task) Task {
	out := Task{
		ID:           t.ID,
		Type:         t.Type,
		Queue:        t.Queue,
		Priority:     t.Priority,
		Status:       t.Status,
		Attempts:     t.Attempts,
		MaxAttempts:  t.MaxAttempts,
		Failures:     t.Failures,
		Worker:       t.Worker,
		Error:        t.Error,
		Key:          t.Key,
		PayloadBytes: t.PayloadSize,
		Timeout:      t.Timeout.String(),
		Created:      utc(t.Created),
		Started:      utc(t.Started),
		Finished:     utc(t.Finished),
		RunAt:        utc(t.RunAt),
	}
	if utf8.Valid(t.Output) {
		out.Output = string(t.Output)
	} else {
		out.OutputBase64 = base64.StdEncoding.EncodeToString(t.Output)
	}
	return out
}

func workerFromScheduler(w scheduler.Worker) Worker {
	types := w.Types
	if types == nil {
		types = []string{}
	}
	return Worker{
		Node:        w.Name,
		Addr:        w.Addr,
		Slots:       w.Slots,
		Busy:        w.Busy,
		Types:       types,
		Queues:      queueList(w.Queues),
		Draining:    w.Draining,
		StrictOrder: w.Strict,
		Since:       utc(w.Since),
		Completed:   w.Completed,
	}
}

func statusFromScheduler(node, version string, st scheduler.Stats) Status {
	return Status{
		Node:         node,
		Version:      version,
		Queued:       st.Queued,
		QueuedBytes:  st.QueuedBytes,
		Retrying:     st.Retrying,
		Scheduled:    st.Scheduled,
		Running:      st.Running,
		Workers:      st.Workers,
		Slots:        st.Slots,
		BusySlots:    st.BusySlots,
		Submitted:    st.Submitted,
		Succeeded:    st.Succeeded,
		Failed:       st.Failed,
		Canceled:     st.Canceled,
		Retried:      st.Retried,
		StaleResults: st.StaleResults,
	}
}

// utc returns t in UTC, and the zero time unchanged so that omitzero
// leaves it out.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
