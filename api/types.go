package api

import (
	"encoding/base64"
	"time"

	"github.com/lbd-dev/lbd/scheduler"
)

// TaskRequest is the body of POST /v1/tasks and one element of a batch.
// Payload carries UTF-8 text and PayloadBase64 carries any bytes in standard
// base64; a request that sets both to non-empty values is rejected. Timeout
// is a Go duration such as "30s"; empty Timeout and zero MaxAttempts select
// the master's defaults for the type.
type TaskRequest struct {
	Type          string `json:"type"`
	Payload       string `json:"payload,omitempty"`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	Timeout       string `json:"timeout,omitempty"`
	MaxAttempts   int    `json:"max_attempts,omitempty"`
	Key           string `json:"key,omitempty"`
	// Queue names the queue, "default" when empty. Priority orders tasks
	// within it, higher first. RunAt (RFC 3339) or Delay (a Go duration)
	// holds the task as "scheduled" until then; set at most one of them.
	Queue    string `json:"queue,omitempty"`
	Priority int    `json:"priority,omitempty"`
	RunAt    string `json:"run_at,omitempty"`
	Delay    string `json:"delay,omitempty"`
}

// BatchRequest is the object form of the body of POST /v1/tasks/batch. A
// bare JSON array of TaskRequest is accepted too.
type BatchRequest struct {
	Tasks []TaskRequest `json:"tasks"`
}

// SubmitResponse is the response to POST /v1/tasks. Its status is 201 also
// when the request's key matched an earlier task, and ID is then that task's.
type SubmitResponse struct {
	ID string `json:"id"`
}

// BatchResponse is the response to POST /v1/tasks/batch: one id per
// submitted task, in request order.
type BatchResponse struct {
	IDs []string `json:"ids"`
}

// Task is a task as GET /v1/tasks/{id} returns it. Output holds the output
// when it is valid UTF-8, otherwise OutputBase64 holds it in standard base64.
// Times are in UTC and omitted while zero.
type Task struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Queue        string           `json:"queue"`
	Priority     int              `json:"priority"`
	Status       scheduler.Status `json:"status"`
	Attempts     int              `json:"attempts"`
	MaxAttempts  int              `json:"max_attempts"`
	Failures     int              `json:"failures"`
	Worker       string           `json:"worker,omitempty"`
	Output       string           `json:"output,omitempty"`
	OutputBase64 string           `json:"output_base64,omitempty"`
	Error        string           `json:"error,omitempty"`
	Key          string           `json:"key,omitempty"`
	PayloadBytes int              `json:"payload_bytes"`
	Timeout      string           `json:"timeout"`
	Created      time.Time        `json:"created,omitzero"`
	Started      time.Time        `json:"started,omitzero"`
	Finished     time.Time        `json:"finished,omitzero"`
	RunAt        time.Time        `json:"run_at,omitzero"`
}

// OutputBytes returns the task's output, decoding OutputBase64 when it is
// set.
func (t *Task) OutputBytes() ([]byte, error) {
	if t.OutputBase64 == "" {
		return []byte(t.Output), nil
	}
	return base64.StdEncoding.DecodeString(t.OutputBase64)
}

// Worker is one connected worker as GET /v1/workers returns it.
type Worker struct {
	Node  string   `json:"node"`
	Addr  string   `json:"addr"`
	Slots int      `json:"slots"`
	Busy  int      `json:"busy"`
	Types []string `json:"types"`
	// Queues lists the queues the worker serves as NAME=WEIGHT, in its
	// order; StrictOrder means the order wins over the weights.
	Queues      []string  `json:"queues"`
	StrictOrder bool      `json:"strict_order,omitempty"`
	Draining    bool      `json:"draining"`
	Since       time.Time `json:"since,omitzero"`
	Completed   uint64    `json:"completed"`
}

// WorkersResponse is the response to GET /v1/workers, sorted by node name.
type WorkersResponse struct {
	Workers []Worker `json:"workers"`
}

// Status is the response to GET /v1/status: the master's identity, queue
// gauges and counters since it started.
type Status struct {
	Node         string `json:"node"`
	Version      string `json:"version"`
	Queued       int    `json:"queued"`
	QueuedBytes  int64  `json:"queued_bytes"`
	Retrying     int    `json:"retrying"`
	Scheduled    int    `json:"scheduled"`
	Running      int    `json:"running"`
	Workers      int    `json:"workers"`
	Slots        int    `json:"slots"`
	BusySlots    int    `json:"busy_slots"`
	Submitted    uint64 `json:"submitted"`
	Succeeded    uint64 `json:"succeeded"`
	Failed       uint64 `json:"failed"`
	Canceled     uint64 `json:"canceled"`
	Retried      uint64 `json:"retried"`
	StaleResults uint64 `json:"stale_results"`
}

// Health is the response to GET /healthz. Status is "ok", or "draining"
// with a 503 status code while the master shuts down.
type Health struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// ErrorResponse is the body of every error response. Field names the request
// field at fault, such as "timeout" or "tasks[3].type", when one applies.
type ErrorResponse struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}
