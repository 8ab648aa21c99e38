package api

import (
	"fmt"
	"net/http"

	"github.com/lbd-dev/lbd/scheduler"
)

func (s *Server) queueRoutes() {
	s.route("/v1/queues", methods{http.MethodGet: s.listQueues})
	s.route("/v1/queues/{name}/pause", methods{http.MethodPost: s.pauseQueue})
	s.route("/v1/queues/{name}/resume", methods{http.MethodPost: s.resumeQueue})
	s.route("/v1/queues/{name}/purge", methods{http.MethodPost: s.purgeQueue})
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) error {
	qs := s.backend.Queues()
	out := QueuesResponse{Queues: make([]Queue, len(qs))}
	for i, q := range qs {
		out.Queues[i] = queueFromScheduler(q)
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *Server) pauseQueue(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.backend.Pause(name); err != nil {
		return err
	}
	s.log.Info("queue paused by request", "queue", name, "remote", r.RemoteAddr)
	s.writeJSON(w, r, http.StatusOK, QueueActionResponse{Queue: name, Paused: true})
	return nil
}

func (s *Server) resumeQueue(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.backend.Resume(name); err != nil {
		return err
	}
	s.log.Info("queue resumed by request", "queue", name, "remote", r.RemoteAddr)
	s.writeJSON(w, r, http.StatusOK, QueueActionResponse{Queue: name})
	return nil
}

// purgeQueue cancels the waiting tasks of a queue. It requires
// ?confirm=true because it cannot be undone.
func (s *Server) purgeQueue(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if c := r.URL.Query().Get("confirm"); c != "true" {
		return badRequest("confirm", "purge cancels every queued, scheduled and retrying task of queue %q "+
			"and cannot be undone: add ?confirm=true (got confirm=%q)", name, c)
	}
	n, err := s.backend.Purge(name)
	if err != nil {
		return err
	}
	s.log.Info("queue purged by request", "queue", name, "canceled", n, "remote", r.RemoteAddr)
	s.writeJSON(w, r, http.StatusOK, QueueActionResponse{Queue: name, Purged: n, Paused: s.paused(name)})
	return nil
}

func (s *Server) paused(name string) bool {
	for _, q := range s.backend.Queues() {
		if q.Name == name {
			return q.Paused
		}
	}
	return false
}

func queueFromScheduler(q scheduler.Queue) Queue {
	return Queue{
		Name:           q.Name,
		Paused:         q.Paused,
		Queued:         q.Queued,
		Delayed:        q.Delayed,
		Running:        q.Running,
		Bytes:          q.Bytes,
		MaxQueuedTasks: q.Limits.MaxQueuedTasks,
		MaxQueuedBytes: q.Limits.MaxQueuedBytes,
	}
}

func queueList(qs []scheduler.QueueWeight) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = fmt.Sprintf("%s=%d", q.Name, q.Weight)
	}
	return out
}
