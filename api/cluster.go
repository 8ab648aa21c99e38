package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ClusterView is the part of the master outside the scheduler that the
// cluster endpoints read: its gossip view and its task connections. Its
// methods must be safe for concurrent use.
type ClusterView interface {
	// Members returns every node in the master's gossip view, the master included.
	// Busy, Connected and Draining are left for the API to fill.
	Members() []Member

	// Drain requests that the named worker drain over its task connection. It
	// returns false when no worker of that name is connected.
	Drain(node string) bool
}

// listMembers serves GET /v1/members.
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Cluster == nil {
		return &httpError{status: http.StatusNotImplemented, msg: "this API server has no gossip view"}
	}
	members := s.opts.Cluster.Members()
	workers := s.backend.Workers()
	for i := range members {
		m := &members[i]
		for _, wk := range workers {
			if wk.Name == m.Node {
				m.Busy, m.Connected, m.Draining = wk.Busy, true, wk.Draining
				break
			}
		}
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.Node, b.Node) })
	s.writeJSON(w, r, http.StatusOK, MembersResponse{Members: members})
	return nil
}

// drainWorker serves POST /v1/workers/{node}/drain. The worker stops taking
// tasks, finishes or hands back what it runs, leaves the cluster and exits.
func (s *Server) drainWorker(w http.ResponseWriter, r *http.Request) error {
	node := r.PathValue("node")
	if s.opts.Cluster == nil {
		return &httpError{status: http.StatusNotImplemented, msg: "this API server cannot reach workers"}
	}
	if !s.opts.Cluster.Drain(node) {
		return &httpError{status: http.StatusNotFound,
			msg: fmt.Sprintf("worker %q is not connected to this master: GET /v1/workers lists the connected workers", node)}
	}
	s.log.Info("drain requested", "worker", node, "remote", r.RemoteAddr)
	s.writeJSON(w, r, http.StatusAccepted, DrainResponse{Node: node, Status: "draining"})
	return nil
}

// clusterRoutes registers the endpoints of the status page and of cluster
// operations.
func (s *Server) clusterRoutes() {
	s.route("/v1/members", methods{http.MethodGet: s.listMembers})
	s.route("/v1/workers/{node}/drain", methods{http.MethodPost: s.drainWorker})
	s.route("/v1/history", methods{http.MethodGet: s.getHistory})
	if s.opts.Metrics != nil {
		s.mux.Handle("GET /metrics", s.opts.Metrics)
	}
	index, assets := uiHandler()
	s.mux.Handle("GET /{$}", index)
	s.mux.Handle("GET /ui/", assets)
}
