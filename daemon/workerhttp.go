package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/worker"
)

// workerHTTP serves a worker's /metrics and /healthz.
type workerHTTP struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

func startWorkerHTTP(addr string, h http.Handler, log *slog.Logger) (*workerHTTP, error) {
	ln, err := listen(addr, "HTTP", "-http-addr (LBD_HTTP_ADDR, key http_addr)")
	if err != nil {
		return nil, err
	}
	wh := &workerHTTP{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(newServerErrorLog(log.Handler()), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(wh.done)
		if err := wh.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("worker HTTP server failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	log.Info("worker HTTP listening", "http", ln.Addr().String(), "paths", "/metrics /healthz")
	return wh, nil
}

func (wh *workerHTTP) close(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := wh.srv.Shutdown(sctx)
	<-wh.done
	if err != nil {
		return fmt.Errorf("stop worker HTTP server: %w", err)
	}
	return nil
}

// newConfiguredHandler builds the exec or http handler of a handler block.
func newConfiguredHandler(h config.Handler, maxOutput int64) (worker.Handler, error) {
	if h.URL != "" {
		return worker.NewHTTP(h.URL, 0, maxOutput)
	}
	return worker.NewExec(h.Command, h.Dir, h.Env, maxOutput)
}

// WorkerHTTPAddr returns the address of a worker's /metrics and /healthz
// listener, "" when http_addr is unset or the node is not a worker.
func (n *Node) WorkerHTTPAddr() string {
	if n.worker == nil || n.worker.http == nil {
		return ""
	}
	return n.worker.http.ln.Addr().String()
}
