package api

import (
	"net/http"
	"slices"
	"strings"
)

// listWorkers serves GET /v1/workers, sorted by node name.
func (s *Server) listWorkers(w http.ResponseWriter, r *http.Request) error {
	workers := s.backend.Workers()
	out := make([]Worker, len(workers))
	for i, wk := range workers {
		out[i] = workerFromScheduler(wk)
	}
	slices.SortFunc(out, func(a, b Worker) int { return strings.Compare(a.Node, b.Node) })
	s.writeJSON(w, r, http.StatusOK, WorkersResponse{Workers: out})
	return nil
}

// getStatus serves GET /v1/status.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	st := statusFromScheduler(s.opts.Node, s.opts.Version, s.backend.Stats())
	s.writeJSON(w, r, http.StatusOK, st)
	return nil
}

// getHealth serves GET /healthz: 200 while the master accepts tasks, 503
// once it drains.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		s.writeJSON(w, r, http.StatusServiceUnavailable, Health{Status: "draining", Error: "master is shutting down"})
		return nil
	}
	s.writeJSON(w, r, http.StatusOK, Health{Status: "ok"})
	return nil
}
