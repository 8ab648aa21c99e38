package api

import (
	"net/http"
	"strconv"

	"github.com/lbd-dev/lbd/scheduler"
)

// DefaultListLimit is the page size of GET /v1/tasks without ?limit=.
const DefaultListLimit = 100

// listTasks serves GET /v1/tasks?status=&type=&limit=&after=&order=. Pages
// are newest first (order=newest, the default) or oldest first
// (order=oldest); ?after= takes the previous page's next value.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	q, err := listQuery(r)
	if err != nil {
		return err
	}
	page, err := s.backend.List(q)
	if err != nil {
		return err
	}
	out := TaskList{Tasks: make([]Task, len(page.Tasks)), Next: page.Next}
	for i, t := range page.Tasks {
		out.Tasks[i] = taskFromScheduler(t)
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func listQuery(r *http.Request) (scheduler.ListQuery, error) {
	v := r.URL.Query()
	q := scheduler.ListQuery{
		Status: scheduler.Status(v.Get("status")),
		Type:   v.Get("type"),
		After:  v.Get("after"),
		Limit:  DefaultListLimit,
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > scheduler.MaxListLimit {
			return q, badRequest("limit", "limit: invalid value %q: use a number from 1 to %d", raw, scheduler.MaxListLimit)
		}
		q.Limit = n
	}
	switch order := v.Get("order"); order {
	case "", "newest":
	case "oldest":
		q.Oldest = true
	default:
		return q, badRequest("order", "order: invalid value %q: use newest or oldest", order)
	}
	return q, nil
}
