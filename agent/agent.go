// Package agent embeds an lbd worker in a Go program. The program
// registers a handler per task type, and the agent joins the cluster as a
// worker with the same gossip, task connection, heartbeats, cancel and
// drain as the lbd binary, so the master schedules it alongside lbd
// workers:
//
//	func main() {
//		a := agent.New(agent.Config{
//			Node:       "thumbnailer-1",
//			Join:       []string{"master.example:7946"},
//			Population: 4,
//		})
//		a.HandleFunc("upper", func(ctx context.Context, payload []byte) ([]byte, error) {
//			return bytes.ToUpper(payload), nil
//		})
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		if err := a.Run(ctx); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Run returns after SIGTERM, once the agent has drained (running tasks
// finish up to DrainTimeout, the rest go back to the master) and left the
// cluster, or after the master asked it to drain. A handler's ctx ends on
// the task's timeout, on a cancel and when a drain gives up on it;
// worker.TaskFromContext names the task.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
	"github.com/lbd-dev/lbd/worker"
)

// Config configures an Agent. Zero fields take the defaults of an lbd
// worker.
type Config struct {
	// Node is the agent's node name, unique in the cluster. Default: the
	// host name.
	Node string

	// Join lists the gossip addresses of seed nodes, host:port, usually
	// the master's. Required.
	Join []string

	// Bind is the gossip listen address. Default "0.0.0.0:7946"; use
	// "127.0.0.1:0" for a free loopback port.
	Bind string

	// Advertise is the gossip address that other nodes use to reach this
	// one. Default: picked by memberlist.
	Advertise string

	// Population is the number of tasks that run at once. Default: the
	// number of CPUs.
	Population int

	// DrainTimeout is how long a drain waits for running tasks before it
	// hands them back. Default 30s.
	DrainTimeout time.Duration

	// HTTPAddr, when set, serves /metrics and /healthz. Default: none.
	HTTPAddr string

	// Logger receives the agent's logs. Default: text on stderr at info.
	Logger *slog.Logger

	// Version is reported in gossip and in the master's logs.
	Version string
}

// Agent is an embedded worker. Register handlers before Start; its methods
// are safe for concurrent use.
type Agent struct {
	cfg Config

	mu       sync.Mutex
	handlers map[string]worker.Handler
	node     *daemon.Node
}

// New returns an agent with no handler.
func New(cfg Config) *Agent {
	return &Agent{cfg: cfg, handlers: map[string]worker.Handler{}}
}

// Handle registers h for the tasks of type typ. A later registration of
// the same type replaces the earlier one. It has no effect once the agent
// started.
func (a *Agent) Handle(typ string, h worker.Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handlers[typ] = h
}

// HandleFunc registers f for the tasks of type typ, like Handle.
func (a *Agent) HandleFunc(typ string, f func(ctx context.Context, payload []byte) ([]byte, error)) {
	a.Handle(typ, worker.HandlerFunc(f))
}

// Start joins the cluster and starts taking tasks. It returns once the
// agent has joined.
func (a *Agent) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.node != nil {
		return errors.New("agent already started")
	}
	if len(a.handlers) == 0 {
		return errors.New("agent has no handler: call Handle or HandleFunc before Start")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	node, err := daemon.StartWorker(ctx, cfg, maps.Clone(a.handlers), daemon.Options{Version: a.cfg.Version, Logger: a.cfg.Logger})
	if err != nil {
		return err
	}
	a.node = node
	return nil
}

// config builds the worker configuration from the defaults of an lbd
// worker and a.cfg.
func (a *Agent) config() (*config.Config, error) {
	c := config.Defaults()
	c.Role = config.RoleWorker
	c.HTTPAddr = a.cfg.HTTPAddr
	if a.cfg.Node != "" {
		c.Node = a.cfg.Node
	}
	if c.Node == "" {
		return nil, errors.New("agent: missing node name and the host name is unavailable: set Config.Node")
	}
	if len(a.cfg.Join) == 0 {
		return nil, errors.New("agent: missing Config.Join: give the master's gossip address, for example master.example:7946")
	}
	c.Join = a.cfg.Join
	if a.cfg.Bind != "" {
		c.Bind = a.cfg.Bind
	}
	c.Advertise = a.cfg.Advertise
	if a.cfg.Population < 0 {
		return nil, fmt.Errorf("agent: invalid Population %d: must be at least 1, or 0 for the number of CPUs", a.cfg.Population)
	}
	if a.cfg.Population > 0 {
		c.Worker.Population = a.cfg.Population
	}
	if a.cfg.DrainTimeout < 0 {
		return nil, fmt.Errorf("agent: invalid DrainTimeout %s: must not be negative", a.cfg.DrainTimeout)
	}
	if a.cfg.DrainTimeout > 0 {
		c.Worker.DrainTimeout = a.cfg.DrainTimeout
	}
	return c, nil
}

// Done returns a channel that is closed when the master asked the agent to
// drain; the program should then call Stop. It is nil before Start.
func (a *Agent) Done() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.node == nil {
		return nil
	}
	return a.node.Done()
}

// GossipAddr returns the agent's gossip address, "" before Start.
func (a *Agent) GossipAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.node == nil {
		return ""
	}
	return a.node.GossipAddr()
}

// Stop drains the agent, waiting up to DrainTimeout for running tasks, and
// leaves the cluster. It is safe to call twice and does nothing before
// Start.
func (a *Agent) Stop(ctx context.Context) error {
	a.mu.Lock()
	node := a.node
	a.mu.Unlock()
	if node == nil {
		return nil
	}
	return node.Stop(ctx)
}

// Run starts the agent and stops it when ctx ends or the master requests it to
// drain.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-a.Done():
	}
	return a.Stop(context.Background())
}
