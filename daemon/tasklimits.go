package daemon

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// limitLogEvery bounds how often a connection closed by a limit is logged
// at warn level. The others go to debug, so that a burst of connections
// cannot fill the log.
const limitLogEvery = 10 * time.Second

// connLimits caps the task connections that one remote IP address holds
// (max_conns_per_addr) and the connections still in their handshake
// (max_pending_handshakes), so that one host cannot exhaust the master's
// file descriptors or handshake goroutines.
type connLimits struct {
	maxPerAddr int
	maxPending int
	log        *slog.Logger

	mu      sync.Mutex // guards the fields below
	perAddr map[string]int
	pending int
	lastLog time.Time
	dropped int // connections closed since the last warn line
}

func newConnLimits(maxPerAddr, maxPending int, log *slog.Logger) *connLimits {
	return &connLimits{maxPerAddr: maxPerAddr, maxPending: maxPending, log: log, perAddr: make(map[string]int)}
}

// reserve counts a new connection from addr as open and in its handshake.
// It returns the host to pass to release, and false when a limit is
// reached: the caller then closes the connection. A zero limit is no limit.
func (l *connLimits) reserve(addr net.Addr) (string, bool) {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.maxPending > 0 && l.pending >= l.maxPending:
		l.logDroppedLocked(host, "task connection closed: too many handshakes in progress; raise max_pending_handshakes if workers reconnect in such numbers",
			"max_pending_handshakes", l.maxPending)
		return "", false
	case l.maxPerAddr > 0 && l.perAddr[host] >= l.maxPerAddr:
		l.logDroppedLocked(host, "task connection closed: too many connections from one address; raise max_conns_per_addr if that many workers share it",
			"max_conns_per_addr", l.maxPerAddr)
		return "", false
	}
	l.perAddr[host]++
	l.pending++
	return host, true
}

// logDroppedLocked logs a closed connection at warn level at most once per
// limitLogEvery, with the number closed since, and at debug level otherwise.
func (l *connLimits) logDroppedLocked(host, msg string, limitKey string, limit int) {
	l.dropped++
	if time.Since(l.lastLog) < limitLogEvery {
		l.log.Debug(msg, "remote_ip", host, limitKey, limit)
		return
	}
	l.log.Warn(msg, "remote_ip", host, limitKey, limit, "closed_since_last_warning", l.dropped)
	l.lastLog = time.Now()
	l.dropped = 0
}

// handshakeDone ends the handshake of a reserved connection.
func (l *connLimits) handshakeDone() {
	l.mu.Lock()
	l.pending--
	l.mu.Unlock()
}

// release removes a closed connection from the counts.
func (l *connLimits) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perAddr[host]--; l.perAddr[host] <= 0 {
		delete(l.perAddr, host)
	}
}
