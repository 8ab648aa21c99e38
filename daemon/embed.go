package daemon

import (
	"context"
	"fmt"
	"maps"
	"os"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/worker"
)

// StartWorker starts a worker node for a Go program that embeds it: the
// node runs handlers, together with any handlers and built-ins that cfg
// enables, and otherwise behaves as an lbd worker process (gossip, task
// connection, heartbeats, cancel and drain). cfg.Role must be worker. A
// handler of handlers replaces one of cfg with the same name.
func StartWorker(ctx context.Context, cfg *config.Config, handlers map[string]worker.Handler, opts Options) (*Node, error) {
	if cfg.Role != config.RoleWorker || cfg.Dev {
		return nil, fmt.Errorf("invalid role %q for an embedded worker: set Role to %q and leave Dev false", cfg.Role, config.RoleWorker)
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Logger == nil {
		opts.Logger = NewLogger(cfg, opts.Stderr)
	}
	n := &Node{cfg: cfg, base: opts.Logger, log: opts.Logger.With("node", cfg.Node), version: opts.Version}
	n.log.Info("lbd starting", "version", opts.Version, "role", "embedded worker", "pid", os.Getpid())

	all := map[string]worker.Handler{}
	if len(cfg.Worker.Handlers) > 0 || len(cfg.Worker.Builtins) > 0 {
		configured, err := buildHandlers(cfg)
		if err != nil {
			return nil, err
		}
		maps.Copy(all, configured)
	}
	maps.Copy(all, handlers)

	w, err := startWorkerWith(ctx, cfg, all, n.log, opts.Version)
	if err != nil {
		return nil, err
	}
	n.worker = w
	n.log.Info("lbd ready", "role", "embedded worker", "types", handlerNames(all))
	return n, nil
}
