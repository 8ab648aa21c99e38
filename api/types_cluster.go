package api

import "time"

// TaskList is the response to GET /v1/tasks: one page of tasks, newest
// first unless the request asked for order=oldest. Next is the value of
// ?after= that fetches the next page, "" on the last page.
type TaskList struct {
	Tasks []Task `json:"tasks"`
	Next  string `json:"next,omitempty"`
}

// Member is one node as the master's gossip sees it, in GET /v1/members.
// Slots come from the node's gossip metadata; Busy and Connected from its
// task connection, for a worker.
type Member struct {
	Node      string   `json:"node"`
	Addr      string   `json:"addr"`
	Role      string   `json:"role"`
	State     string   `json:"state"`
	Version   string   `json:"version"`
	Slots     int      `json:"slots"`
	Busy      int      `json:"busy"`
	Types     []string `json:"types,omitempty"`
	Connected bool     `json:"connected"`
	Draining  bool     `json:"draining"`
}

// MembersResponse is the response to GET /v1/members, sorted by node name.
type MembersResponse struct {
	Members []Member `json:"members"`
}

// DrainResponse is the response to POST /v1/workers/{node}/drain.
type DrainResponse struct {
	Node   string `json:"node"`
	Status string `json:"status"` // "draining"
}

// Sample is one point of the master's history, taken every
// HistoryResponse.Interval. The counters count since the master started.
type Sample struct {
	At        time.Time `json:"at"`
	Queued    int       `json:"queued"` // queued and retrying tasks
	Running   int       `json:"running"`
	Workers   int       `json:"workers"`
	Slots     int       `json:"slots"`
	BusySlots int       `json:"busy_slots"`
	Succeeded uint64    `json:"succeeded"`
	Failed    uint64    `json:"failed"`
}

// HistoryResponse is the response to GET /v1/history: samples oldest
// first.
type HistoryResponse struct {
	Interval string   `json:"interval"`
	Samples  []Sample `json:"samples"`
}
