package systems

import "time"

// The bench decodes lbd's HTTP API with its own copies of the fields it
// reads, so that it builds against any lbd tree that keeps these JSON names.

// Status is the part of GET /v1/status that the bench reads.
type Status struct {
	Version   string `json:"version"`
	Queued    int    `json:"queued"`
	Running   int    `json:"running"`
	Workers   int    `json:"workers"`
	Slots     int    `json:"slots"`
	Submitted uint64 `json:"submitted"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
}

// Task is the part of GET /v1/tasks/{id} that the bench reads.
type Task struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	Worker   string    `json:"worker"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// batchResponse is the response to POST /v1/tasks/batch.
type batchResponse struct {
	IDs []string `json:"ids"`
}
