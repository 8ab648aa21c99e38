package daemon

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// limitListener accepts at most max connections that are open at once.
// At the limit, Accept waits until one of them closes, so further clients
// wait in the kernel's accept queue and cost the process no descriptor.
type limitListener struct {
	net.Listener
	slots chan struct{}
	max   int
	log   *slog.Logger

	mu      sync.Mutex
	lastLog time.Time
}

func newLimitListener(ln net.Listener, max int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), max: max, log: log}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.logFull()
		l.slots <- struct{}{}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// logFull logs at most once per limitLogEvery that the limit was reached.
func (l *limitListener) logFull() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastLog) < limitLogEvery {
		return
	}
	l.lastLog = time.Now()
	l.log.Warn("HTTP connection limit reached; new connections wait until one closes: raise max_http_conns if clients need more",
		"addr", l.Addr().String(), "max_http_conns", l.max)
}

// limitedConn gives its slot back once, at the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// serverErrorHandler passes the messages that net/http writes to its
// ErrorLog, such as failed TLS handshakes, to a logger at warn level: at
// most errorLogBurst lines per limitLogEvery, then a count of those left
// out.
type serverErrorHandler struct {
	slog.Handler

	mu      sync.Mutex
	window  time.Time
	lines   int
	dropped int
}

const errorLogBurst = 10

func newServerErrorLog(h slog.Handler) *serverErrorHandler {
	return &serverErrorHandler{Handler: h}
}

func (h *serverErrorHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	now := time.Now()
	if now.Sub(h.window) >= limitLogEvery {
		if h.dropped > 0 {
			r.AddAttrs(slog.Int("similar_lines_left_out", h.dropped))
		}
		h.window, h.lines, h.dropped = now, 0, 0
	}
	h.lines++
	if h.lines > errorLogBurst {
		h.dropped++
		h.mu.Unlock()
		return nil
	}
	h.mu.Unlock()
	r.Message = strings.TrimSpace(r.Message)
	return h.Handler.Handle(ctx, r)
}
