// Package api is the master's HTTP API: JSON endpoints to submit, inspect,
// wait for, cancel and retry tasks, and to read the workers and the queue's
// status. It reaches the scheduler through the Backend interface.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lbd-dev/lbd/scheduler"
)

// Backend is the set of scheduler methods that the API calls, and
// *scheduler.Scheduler implements it. Its methods must be safe for
// concurrent use.
type Backend interface {
	Submit(specs []scheduler.Spec) ([]string, error)
	Get(id string) (scheduler.Task, error)
	Wait(ctx context.Context, id string) (scheduler.Task, error)
	Cancel(id string) (scheduler.Task, error)
	Retry(id string) (scheduler.Task, error)
	Queues() []scheduler.Queue
	Pause(queue string) error
	Resume(queue string) error
	Purge(queue string) (int, error)
	Workers() []scheduler.Worker
	Stats() scheduler.Stats
	List(q scheduler.ListQuery) (scheduler.ListPage, error)
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 64 << 20
	DefaultMaxWait      = 5 * time.Minute
)

// Options configure a Server. Zero fields take their defaults.
type Options struct {
	// MaxBodyBytes is the limit on a whole request body; a larger body gets
	// 413. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// MaxPayloadBytes is the scheduler's max_payload_bytes. The API checks
	// it too so that a 413 names the task in a batch; 0 leaves the check to
	// the scheduler alone.
	MaxPayloadBytes int64

	// MaxWait caps the ?wait= of GET /v1/tasks/{id}. Default
	// DefaultMaxWait. An http.Server in front of the API needs a
	// WriteTimeout longer than this.
	MaxWait time.Duration

	// Logger receives every 5xx at error level and every 4xx at debug
	// level. Default: discard.
	Logger *slog.Logger

	// Node is the master's node name and Version its build version, both
	// reported by GET /v1/status.
	Node    string
	Version string

	// Cluster serves GET /v1/members and POST /v1/workers/{node}/drain;
	// nil makes them return 501.
	Cluster ClusterView

	// History serves GET /v1/history; nil serves no samples.
	History *History

	// Metrics serves GET /metrics; nil leaves the path out.
	Metrics http.Handler

	// Token, when set, is the bearer token that every request must carry
	// in "Authorization: Bearer TOKEN", except for the status page and its
	// assets, /healthz, and /metrics unless MetricsRequireToken is set.
	// Other requests without it get 401.
	Token string

	// MetricsRequireToken makes GET /metrics require Token too.
	MetricsRequireToken bool
}

// Server is the master's HTTP API. It implements http.Handler and is safe
// for concurrent use.
type Server struct {
	backend  Backend
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	draining atomic.Bool
	token    *tokenHash // SHA-256 of Options.Token; nil when the API has no token

	// drained ends when SetDraining is called, so that ?wait requests
	// return at once and a stopping master does not wait for them.
	drained    context.Context
	endWaiters context.CancelFunc
}

// New returns the API for b.
func New(b Backend, opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}

	s := &Server{backend: b, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if opts.Token != "" {
		hash := tokenHash(sha256.Sum256([]byte(opts.Token)))
		s.token = &hash
	}
	s.drained, s.endWaiters = context.WithCancel(context.Background())
	s.routes()
	return s
}

// SetDraining makes every later submit and retry fail with 503 and
// /healthz report "draining". It cannot be undone.
func (s *Server) SetDraining() {
	s.draining.Store(true)
	s.endWaiters()
}

// ServeHTTP serves one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.requireToken(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handlerFunc serves one request and returns its error, if any, for
// Server.fail to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// methods maps the HTTP methods of one path to their handlers.
type methods map[string]handlerFunc

func (s *Server) routes() {
	s.route("/v1/tasks", methods{http.MethodPost: s.submitTask, http.MethodGet: s.listTasks})
	s.route("/v1/tasks/batch", methods{http.MethodPost: s.submitBatch})
	s.route("/v1/tasks/{id}", methods{http.MethodGet: s.getTask, http.MethodDelete: s.cancelTask})
	s.route("/v1/tasks/{id}/retry", methods{http.MethodPost: s.retryTask})
	s.route("/v1/workers", methods{http.MethodGet: s.listWorkers})
	s.queueRoutes()
	s.route("/v1/status", methods{http.MethodGet: s.getStatus})
	s.route("/healthz", methods{http.MethodGet: s.getHealth})
	s.clusterRoutes()
	s.mux.HandleFunc("/", s.unknownPath)
}

// route registers a path with its methods. The method dispatch is done here
// instead of by ServeMux patterns so that 405 responses carry a JSON body.
// A GET handler serves HEAD too.
func (s *Server) route(pattern string, m methods) {
	if get, ok := m[http.MethodGet]; ok {
		m[http.MethodHead] = get
	}
	allow := strings.Join(slices.Sorted(maps.Keys(m)), ", ")

	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h, ok := m[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			s.fail(w, r, &httpError{
				status: http.StatusMethodNotAllowed,
				msg:    fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow),
			})
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

func (s *Server) unknownPath(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, &httpError{
		status: http.StatusNotFound,
		msg: fmt.Sprintf("no API endpoint at %s: the endpoints are /v1/tasks, /v1/tasks/batch, "+
			"/v1/tasks/{id}, /v1/tasks/{id}/retry, /v1/queues, /v1/queues/{name}/pause|resume|purge, /v1/workers, /v1/workers/{node}/drain, /v1/members, "+
			"/v1/history, /v1/status, /healthz, /metrics and the status page at /", r.URL.Path),
	})
}

// writeJSON writes v as the JSON body of a response with the given status.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("write response failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}
