package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/membership"
	"github.com/lbd-dev/lbd/metrics"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
	"github.com/lbd-dev/lbd/tlsutil"
	"github.com/lbd-dev/lbd/wire"
)

// Deadlines of the HTTP API's connections.
const (
	// apiReadHeaderTimeout bounds the TLS handshake and the request
	// headers, so a client that trickles them is cut off.
	apiReadHeaderTimeout = 10 * time.Second
	// apiReadTimeout bounds the whole request, body included. There is
	// no write timeout: ?wait requests hold their response for up to five
	// minutes.
	apiReadTimeout = 2 * time.Minute
	// apiIdleTimeout closes a keep-alive connection that sends no next
	// request.
	apiIdleTimeout = 2 * time.Minute
)

// master is the running parts of a master node.
type master struct {
	log     *slog.Logger
	store   store.Store
	sched   *scheduler.Scheduler
	tasks   *taskServer
	api     *api.Server
	httpLn  net.Listener
	http    *http.Server
	members *membership.Membership
	metrics *metrics.Master
	history *api.History

	taskCerts *tlsutil.Store // nil without tls_* files
	apiCerts  *tlsutil.Store // nil without api_tls_* files

	quit chan struct{}
	wg   sync.WaitGroup
}

func startMaster(cfg *config.Config, log *slog.Logger, version string) (m *master, err error) {
	m = &master{log: log, quit: make(chan struct{})}
	// The error returns set m to nil, so the cleanup keeps its own pointer.
	started := m
	defer func() {
		if err != nil {
			started.stop(context.Background())
		}
	}()

	if m.store, err = openStore(cfg, log); err != nil {
		return nil, err
	}
	m.metrics = newMasterMetrics(m)
	schedCfg := schedulerConfig(cfg, m.store, log)
	schedCfg.Observer = m.metrics
	m.sched, err = scheduler.New(schedCfg)
	if err != nil {
		return nil, err
	}

	if cfg.TLS != nil {
		m.taskCerts = tlsutil.NewStore(cfg.TLS)
	}
	taskTLS, err := newTaskTLS(cfg, m.taskCerts)
	if err != nil {
		return nil, err
	}

	taskLn, err := listen(cfg.TaskAddr, "task", "-task-addr (LBD_TASK_ADDR, key task_addr)")
	if err != nil {
		return nil, err
	}
	httpLn, err := listen(cfg.HTTPAddr, "HTTP", "-http-addr (LBD_HTTP_ADDR, key http_addr)")
	if err != nil {
		taskLn.Close()
		return nil, err
	}
	m.httpLn = newLimitListener(httpLn, cfg.MaxHTTPConns, log)

	m.members, err = membership.Start(membership.Config{
		Node:           cfg.Node,
		Bind:           cfg.Bind,
		Advertise:      cfg.Advertise,
		Join:           cfg.Join,
		RejoinInterval: cfg.RejoinInterval,
		Meta: wire.Meta{
			Role:     wire.RoleMaster,
			Version:  version,
			TaskAddr: taskLn.Addr().String(),
			HTTPAddr: m.httpLn.Addr().String(),
		},
		Logger: gossipLogger(log, m.metrics.GossipError),
		Keys:   cfg.GossipKeys,

		MaxMembers: cfg.MaxMembers,
	})
	if err != nil {
		taskLn.Close()
		return nil, err
	}
	logGossipKeys(log, cfg.GossipKeys)

	m.tasks = &taskServer{
		ln:        taskLn,
		sched:     m.sched,
		members:   m.members,
		node:      cfg.Node,
		maxFrame:  int(cfg.MaxFrameBytes),
		hbEvery:   cfg.HeartbeatInterval,
		hbTimeout: cfg.HeartbeatTimeout,
		log:       log,
		conns:     make(map[*workerConn]struct{}),
		connError: m.metrics.TaskConnectionError,
		keys:      m.members.Keys,
		tls:       taskTLS,
		limits:    newConnLimits(cfg.MaxConnsPerAddr, cfg.MaxPendingHandshakes, log),
	}
	m.history = api.NewHistory(m.sched.Stats, 0, 0)
	m.api = api.New(m.sched, api.Options{
		MaxPayloadBytes: cfg.MaxPayloadBytes,
		MaxBodyBytes:    max(64<<20, 2*cfg.MaxPayloadBytes),
		Logger:          log,
		Node:            cfg.Node,
		Version:         version,
		Cluster:         clusterView{members: m.members, tasks: m.tasks},
		History:         m.history,
		Metrics:         m.metrics,

		Token:               cfg.APIToken,
		MetricsRequireToken: cfg.MetricsRequireToken,
	})
	m.http = &http.Server{
		Handler:           m.api,
		ReadHeaderTimeout: apiReadHeaderTimeout,
		ReadTimeout:       apiReadTimeout,
		IdleTimeout:       apiIdleTimeout,
		ErrorLog:          slog.NewLogLogger(newServerErrorLog(log.Handler()), slog.LevelWarn),
	}
	apiScheme := "http"
	if cfg.APITLS != nil {
		m.apiCerts = tlsutil.NewStore(cfg.APITLS)
		m.http.TLSConfig = m.apiCerts.APIConfig()
		apiScheme = "https"
	}

	m.wg.Add(3)
	go func() { defer m.wg.Done(); m.tasks.serve() }()
	go func() { defer m.wg.Done(); m.serveHTTP() }()
	go func() { defer m.wg.Done(); m.watchMembers() }()
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.runHistory() }()
	if m.taskCerts != nil || m.apiCerts != nil {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); watchCertExpiry(m.quit, log, m.taskCerts, m.apiCerts) }()
	}

	if len(cfg.Join) > 0 {
		// A master with seeds joins an existing cluster in the background:
		// it serves its queue whether or not the seeds are up yet.
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := m.members.WaitJoined(0); err != nil {
				log.Error("join failed", "err", err)
			}
		}()
	}
	log.Info("master listening", "gossip", m.members.LocalAddr(), "tasks", taskLn.Addr().String(),
		"http", m.httpLn.Addr().String(), "api_scheme", apiScheme, "task_transport", transportMode(cfg),
		"durability", cfg.Durability, "data_dir", cfg.DataDir)
	logCerts(log, "task connection certificate", cfg.TLS)
	logCerts(log, "HTTPS API certificate", cfg.APITLS)
	return m, nil
}

func openStore(cfg *config.Config, log *slog.Logger) (store.Store, error) {
	if cfg.Durability == config.DurabilityNone {
		log.Warn("durability is none: tasks live in memory only, and a crash or restart of the master loses every task it holds")
		return store.NewMemory(), nil
	}
	st, err := store.Open(cfg.DataDir, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open task store: %w", err)
	}
	return st, nil
}

func schedulerConfig(cfg *config.Config, st store.Store, log *slog.Logger) scheduler.Config {
	types := make(map[string]scheduler.TypeDefaults, len(cfg.TaskTypes))
	for name, t := range cfg.TaskTypes {
		types[name] = scheduler.TypeDefaults{Timeout: t.Timeout, MaxAttempts: t.MaxAttempts}
	}
	return scheduler.Config{
		MaxAttempts:     cfg.MaxAttempts,
		TaskTimeout:     cfg.TaskTimeout,
		Types:           types,
		RetryBackoff:    cfg.RetryBackoff,
		RetryBackoffMax: cfg.RetryBackoffMax,
		MaxQueuedTasks:  cfg.MaxQueuedTasks,
		MaxQueuedBytes:  cfg.MaxQueuedBytes,
		MaxPayloadBytes: cfg.MaxPayloadBytes,
		ResultRetention: cfg.ResultRetention,
		MaxResultBytes:  cfg.MaxResultBytes,
		AdoptGrace:      cfg.AdoptGrace,
		Queues:          queueLimits(cfg.Queues),
		Store:           st,
		Logger:          log,
	}
}

// listen opens a TCP listener and names the setting that moves it when the
// address is taken.
func listen(addr, what, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s address %s is already in use by another program: choose a free port with %s: %w", what, addr, setting, err)
	}
	return nil, fmt.Errorf("listen for %s on %s (set with %s): %w", what, addr, setting, err)
}

func (m *master) serveHTTP() {
	var err error
	if m.http.TLSConfig != nil {
		err = m.http.ServeTLS(m.httpLn, "", "")
	} else {
		err = m.http.Serve(m.httpLn)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		m.log.Error("HTTP server failed", "addr", m.httpLn.Addr().String(), "err", err)
	}
}

// watchMembers drops the task connection of a worker that gossip reports
// failed or gone, which requeues its attempts.
func (m *master) watchMembers() {
	for {
		select {
		case <-m.quit:
			return
		case ev := <-m.members.Events():
			switch {
			case ev.Kind == membership.EventJoin && ev.Member.Meta.Role == wire.RoleMaster:
				// Workers follow the master whose name sorts first, so
				// the tasks of the other one wait unseen.
				m.log.Error("another master joined the cluster; lbd runs one master per cluster, so stop one of them",
					"other_master", ev.Member.Name, "other_addr", ev.Member.Addr)
			case ev.Kind == membership.EventLeave && ev.Member.Meta.Role == wire.RoleWorker:
				m.tasks.dropWorker(ev.Member.Name, "gossip: node "+ev.Member.State, ev.At)
			}
		}
	}
}

func (m *master) stop(ctx context.Context) error {
	var errs []error
	if m.api != nil {
		m.api.SetDraining()
	}
	if m.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m.http.Shutdown(sctx)
		cancel()
	}
	if m.tasks != nil {
		m.tasks.close()
	}
	if m.sched != nil {
		m.sched.Stop()
	}
	close(m.quit)
	if m.members != nil {
		if err := m.members.Leave(leaveTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	m.wg.Wait()
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close task store: %w", err))
		}
	}
	return errors.Join(errs...)
}
