// Package daemon wires an lbd node together: it loads nothing itself but
// takes a validated config.Config, starts the parts of the node's role in
// order (store, scheduler, listeners, gossip for a master; handlers, gossip,
// task connection for a worker) and stops them in the reverse order.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/lbd-dev/lbd/config"
)

// leaveTimeout bounds how long a node waits for its leave message to spread.
const leaveTimeout = 3 * time.Second

// Node is a running lbd node of any role.
type Node struct {
	cfg     *config.Config
	base    *slog.Logger // without the node attribute, for dev mode's second node
	log     *slog.Logger
	version string
	level   *slog.LevelVar // nil when Options.Logger came without Options.Level
	notify  notifier

	master *master
	worker *workerNode

	stopOnce sync.Once
	stopErr  error
}

// Options are the parts of a node that do not come from its configuration.
type Options struct {
	Version string
	Logger  *slog.Logger // nil: a logger built from cfg on Stderr
	Stderr  io.Writer    // nil: os.Stderr

	// Level is the level of Options.Logger, which a SIGHUP reload sets
	// from log_level. nil with a nil Logger: Start makes one.
	Level *slog.LevelVar

	// Hangup delivers SIGHUP, on which Run calls Reload and applies the
	// configuration it returns. nil: Run does not reload.
	Hangup <-chan os.Signal
	Reload func() (*config.Config, error)
}

// NewLogger builds a logger from the log_level and log_format settings.
// Start adds the node name to every line.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return newLogger(cfg, w, new(slog.LevelVar))
}

// Start starts a node of cfg's role and returns once it serves: a master
// listens for workers and API calls, a worker has joined its cluster.
func Start(ctx context.Context, cfg *config.Config, opts Options) (*Node, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Logger == nil {
		opts.Level = new(slog.LevelVar)
		opts.Logger = newLogger(cfg, opts.Stderr, opts.Level)
	}
	n := &Node{cfg: cfg, base: opts.Logger, log: opts.Logger.With("node", cfg.Node), version: opts.Version, level: opts.Level}
	n.notify = notifier{log: n.log}
	n.log.Info("lbd starting", "version", opts.Version, "role", roleName(cfg), "pid", os.Getpid())
	for _, w := range cfg.Warnings {
		n.log.Warn("configuration warning", "warning", w)
	}

	var err error
	switch {
	case cfg.Dev:
		err = n.startDev(ctx)
	case cfg.Role == config.RoleMaster:
		n.master, err = startMaster(cfg, n.log, opts.Version)
	case cfg.Role == config.RoleWorker:
		n.worker, err = startWorker(ctx, cfg, n.log, opts.Version)
	default:
		err = fmt.Errorf("invalid role %q: use -role master or -role worker", cfg.Role)
	}
	if err != nil {
		n.Stop(context.Background())
		return nil, err
	}
	n.log.Info("lbd ready", "role", roleName(cfg))
	return n, nil
}

func roleName(cfg *config.Config) string {
	if cfg.Dev {
		return "dev"
	}
	return cfg.Role
}

// startDev starts a master and a worker that joins it, both on loopback.
func (n *Node) startDev(ctx context.Context) error {
	m, err := startMaster(n.cfg, n.log, n.version)
	if err != nil {
		return err
	}
	n.master = m

	wcfg := *n.cfg
	wcfg.Node = n.cfg.Node + "-worker"
	wcfg.Bind = "127.0.0.1:0"
	wcfg.Advertise = ""
	wcfg.Join = []string{m.members.LocalAddr()}
	w, err := startWorker(ctx, &wcfg, n.base.With("node", wcfg.Node), n.version)
	if err != nil {
		return err
	}
	n.worker = w
	return nil
}

// HTTPAddr returns the master's API address, "" on a worker.
func (n *Node) HTTPAddr() string {
	if n.master == nil {
		return ""
	}
	return n.master.httpLn.Addr().String()
}

// GossipAddr returns the node's gossip address (the master's in dev mode).
func (n *Node) GossipAddr() string {
	if n.master != nil {
		return n.master.members.LocalAddr()
	}
	return n.worker.members.LocalAddr()
}

// TaskAddr returns the master's task listener address, "" on a worker.
func (n *Node) TaskAddr() string {
	if n.master == nil {
		return ""
	}
	return n.master.tasks.ln.Addr().String()
}

// Done returns a channel that is closed when the node wants to stop by
// itself: a worker that an operator asked to drain.
func (n *Node) Done() <-chan struct{} {
	if n.worker != nil && n.master == nil {
		return n.worker.w.DrainRequested()
	}
	return nil
}

// Stop shuts the node down in order: a worker drains (up to drain_timeout)
// and leaves; a master rejects new tasks, stops its listeners, writes its
// store and leaves. Safe to call more than once.
func (n *Node) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() {
		n.log.Info("lbd stopping", "role", roleName(n.cfg))
		var errs []error
		if n.worker != nil {
			errs = append(errs, n.worker.stop(ctx))
		}
		if n.master != nil {
			errs = append(errs, n.master.stop(ctx))
		}
		n.stopErr = errors.Join(errs...)
		if n.stopErr != nil {
			n.log.Error("lbd stopped with errors", "err", n.stopErr)
		} else {
			n.log.Info("lbd stopped")
		}
	})
	return n.stopErr
}

// Run starts a node, notifies the service manager that it is ready, reloads on
// opts.Hangup and stops the node when ctx ends or the node requests a stop.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	n, err := Start(ctx, cfg, opts)
	if errors.Is(err, errStoppedBeforeJoin) {
		return nil
	}
	if err != nil {
		return err
	}
	n.notify.send("READY=1\nSTATUS=" + n.statusLine())
	sup := startSupervisor(n.notify, n.statusLine)
	defer sup.close()

	for stop := false; !stop; {
		select {
		case <-ctx.Done():
			stop = true
		case <-n.Done():
			n.log.Info("drain requested by the master")
			stop = true
		case <-opts.Hangup:
			n.reload(opts.Reload)
		}
	}
	n.notify.send("STOPPING=1\nSTATUS=stopping")
	return n.Stop(context.Background())
}
