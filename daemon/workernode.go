package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/membership"
	"github.com/lbd-dev/lbd/metrics"
	"github.com/lbd-dev/lbd/tlsutil"
	"github.com/lbd-dev/lbd/wire"
	"github.com/lbd-dev/lbd/worker"
)

// workerNode is the running parts of a worker node.
type workerNode struct {
	log     *slog.Logger
	cfg     *config.Config
	w       *worker.Worker
	members *membership.Membership

	cancelRun context.CancelFunc
	runDone   chan error

	metrics *metrics.Worker
	http    *workerHTTP // nil unless http_addr is set

	taskCerts *tlsutil.Store // nil without tls_* files
}

func startWorker(ctx context.Context, cfg *config.Config, log *slog.Logger, version string) (wn *workerNode, err error) {
	handlers, err := buildHandlers(cfg)
	if err != nil {
		return nil, err
	}
	return startWorkerWith(ctx, cfg, handlers, log, version)
}

// startWorkerWith starts a worker node that runs handlers, which a Go
// program may have added to those of cfg.
func startWorkerWith(ctx context.Context, cfg *config.Config, handlers map[string]worker.Handler, log *slog.Logger, version string) (wn *workerNode, err error) {
	if len(handlers) == 0 {
		return nil, fmt.Errorf("the worker has no handler: register at least one handler for a task type")
	}
	wcfg := worker.Config{
		Node:           cfg.Node,
		Version:        version,
		Slots:          cfg.Worker.Population,
		Handlers:       handlers,
		MaxFrameBytes:  int(cfg.MaxFrameBytes),
		MaxOutputBytes: cfg.MaxOutputBytes,
		DrainTimeout:   cfg.Worker.DrainTimeout,
		StrictOrder:    cfg.Worker.StrictOrder,
		Logger:         log,
	}
	if wcfg.Queues, err = wireQueues(cfg.Worker.Queues); err != nil {
		return nil, err
	}
	wn = &workerNode{log: log, cfg: cfg}
	wn.metrics = metrics.NewWorker(metrics.WorkerSources{
		Node:    cfg.Node,
		Stats:   func() worker.Stats { return wn.w.Stats() },
		Members: func() map[string]int { return memberCounts(wn.members) },
	})

	wn.members, err = membership.Start(membership.Config{
		Node:           cfg.Node,
		Bind:           cfg.Bind,
		Advertise:      cfg.Advertise,
		Join:           cfg.Join,
		RejoinInterval: cfg.RejoinInterval,
		Meta: wire.Meta{
			Role:    wire.RoleWorker,
			Version: version,
			Slots:   cfg.Worker.Population,
			Types:   handlerNames(handlers),
		},
		Logger: gossipLogger(log, wn.metrics.GossipError),
		Keys:   cfg.GossipKeys,

		MaxMembers: cfg.MaxMembers,
	})
	if err != nil {
		return nil, err
	}
	logGossipKeys(log, cfg.GossipKeys)
	log.Info("worker gossip listening", "gossip", wn.members.LocalAddr(), "slots", cfg.Worker.Population,
		"types", handlerNames(handlers))
	wcfg.GossipAddr = wn.members.LocalAddr()
	wcfg.GossipKey = wn.members.PrimaryKey
	if cfg.TLS != nil {
		wn.taskCerts = tlsutil.NewStore(cfg.TLS)
	}
	wcfg.TLS = workerTLS(cfg, wn.taskCerts, wn.members.MasterNameAt)
	log.Info("task transport", "mode", transportMode(cfg))
	logCerts(log, "task connection certificate", cfg.TLS)
	if wn.w, err = worker.New(wcfg); err != nil {
		wn.members.Shutdown()
		return nil, err
	}

	if len(cfg.Join) == 0 {
		wn.members.Shutdown()
		return nil, fmt.Errorf("a worker needs at least one seed: set -join (LBD_JOIN, key join) to the master's gossip address, for example -join master.example:7946")
	}
	if err := waitJoined(ctx, wn.members); err != nil {
		wn.members.Shutdown()
		if errors.Is(err, membership.ErrNameConflict) || errors.Is(err, errStoppedBeforeJoin) {
			return nil, err
		}
		return nil, fmt.Errorf("join cluster: %w", err)
	}

	if cfg.HTTPAddr != "" && !cfg.Dev {
		if wn.http, err = startWorkerHTTP(cfg.HTTPAddr, wn.metrics, log); err != nil {
			wn.members.Shutdown()
			return nil, err
		}
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	wn.cancelRun = cancel
	wn.runDone = make(chan error, 1)
	go func() { wn.runDone <- wn.w.Run(runCtx, wn.masterAddr) }()
	if wn.taskCerts != nil {
		go watchCertExpiry(runCtx.Done(), log, wn.taskCerts)
	}
	return wn, nil
}

// errStoppedBeforeJoin means that SIGTERM or SIGINT came while the node
// still tried to join; Run treats it as a clean stop.
var errStoppedBeforeJoin = errors.New("stopped before joining the cluster")

// waitJoined joins the seeds until one responds or ctx ends.
func waitJoined(ctx context.Context, m *membership.Membership) error {
	joined := make(chan error, 1)
	go func() { joined <- m.WaitJoined(0) }()
	select {
	case err := <-joined:
		return err
	case <-ctx.Done():
		m.Shutdown() // ends WaitJoined
		<-joined
		return errStoppedBeforeJoin
	}
}

// masterAddr returns the master's task address from gossip. While gossip
// lists no master, it requests an early re-join of the seeds, so that a
// master that restarted is found within seconds.
func (wn *workerNode) masterAddr() string {
	addr := wn.members.MasterTaskAddr()
	if addr == "" {
		wn.members.RejoinSoon()
	}
	return addr
}

// buildHandlers makes the handlers that the worker block enables.
func buildHandlers(cfg *config.Config) (map[string]worker.Handler, error) {
	hs := make(map[string]worker.Handler)
	for _, name := range cfg.Worker.Builtins {
		switch name {
		case config.BuiltinEcho:
			hs[name] = worker.Echo()
		case config.BuiltinSleep:
			hs[name] = worker.Sleep()
		default:
			return nil, fmt.Errorf("unknown builtin handler %q: choose echo or sleep", name)
		}
	}
	for name, h := range cfg.Worker.Handlers {
		ex, err := newConfiguredHandler(h, cfg.MaxOutputBytes)
		if err != nil {
			return nil, fmt.Errorf("handler %q: %w", name, err)
		}
		if h.Timeout > 0 {
			ex = withTimeout(ex, h.Timeout)
		}
		hs[name] = ex
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("the worker has no handler: add handler \"NAME\" { command = [...] } to the worker block, set LBD_HANDLER_NAME, or enable builtins")
	}
	return hs, nil
}

// withTimeout caps every run of h at d, in addition to the task's timeout.
func withTimeout(h worker.Handler, d time.Duration) worker.Handler {
	return worker.HandlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		out, err := h.Handle(ctx, payload)
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return out, fmt.Errorf("timed out after %s (handler timeout): %w", d, err)
		}
		return out, err
	})
}

func handlerNames(hs map[string]worker.Handler) []string {
	names := make([]string, 0, len(hs))
	for name := range hs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// stop drains the worker, closes its task connection and leaves the cluster.
func (wn *workerNode) stop(ctx context.Context) error {
	var errs []error
	if wn.runDone != nil {
		dctx, cancel := context.WithTimeout(ctx, wn.cfg.Worker.DrainTimeout+5*time.Second)
		if err := wn.w.Drain(dctx); err != nil {
			errs = append(errs, fmt.Errorf("drain: %w", err))
		}
		cancel()
		wn.cancelRun()
		if err := <-wn.runDone; err != nil {
			errs = append(errs, err)
		}
	}
	if wn.members != nil {
		if err := wn.members.Leave(leaveTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if wn.http != nil {
		errs = append(errs, wn.http.close(ctx))
	}
	return errors.Join(errs...)
}
