package api

// Queue is one queue as GET /v1/queues returns it.
type Queue struct {
	Name    string `json:"name"`
	Paused  bool   `json:"paused"`
	Queued  int    `json:"queued"`  // tasks waiting for a slot
	Delayed int    `json:"delayed"` // scheduled or retrying tasks not yet due
	Running int    `json:"running"`
	Bytes   int64  `json:"bytes"` // payload bytes of queued, scheduled and retrying tasks
	// MaxQueuedTasks and MaxQueuedBytes are the queue's own limits, 0 for
	// none.
	MaxQueuedTasks int   `json:"max_queued_tasks"`
	MaxQueuedBytes int64 `json:"max_queued_bytes"`
}

// QueuesResponse is the response to GET /v1/queues, sorted by name.
type QueuesResponse struct {
	Queues []Queue `json:"queues"`
}

// QueueActionResponse is the response to POST /v1/queues/{name}/pause,
// /resume and /purge. Purged counts the tasks that a purge canceled.
type QueueActionResponse struct {
	Queue  string `json:"queue"`
	Paused bool   `json:"paused"`
	Purged int    `json:"purged"`
}
