package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// Timeouts of the task connection.
const (
	// welcomeTimeout bounds the wait for the master's reply to Hello.
	welcomeTimeout = 10 * time.Second
	// writeTimeout bounds one write on the task connection; a write that
	// takes longer breaks the connection.
	writeTimeout = 10 * time.Second
	// addrPollInterval is how often Run calls masterAddr again while the
	// master's address is not known.
	addrPollInterval = 250 * time.Millisecond
	// stopGrace bounds how long Run and Drain wait for canceled handlers to
	// return: exec handlers need killGrace to SIGKILL a stubborn group.
	stopGrace = killGrace + time.Second
)

// session is one welcomed task connection.
type session struct {
	conn     *wire.Conn
	addr     string
	interval time.Duration // between heartbeats
	timeout  time.Duration // silence after which the master counts as gone

	// confirmAge is the minimum age of a sent result before a frame from
	// the master confirms it. By then the result was written or the write
	// broke the connection, because at most two writes, each bounded by
	// writeTimeout, come before it. The extra heartbeat interval gives the
	// master time to read it.
	confirmAge time.Duration

	sent uint64 // results handed to this connection, guarded by Worker.mu
}

// errRejected marks a connection that the master rejected.
var errRejected = errors.New("master rejected the worker")

// Run dials the master at masterAddr() and speaks the task protocol until
// ctx ends. An empty address means not known yet, so Run calls masterAddr
// again shortly. Whenever the connection breaks, Run reconnects with
// jittered exponential backoff (100 ms doubling to 5 s, reset after a
// welcome). Attempts keep running across reconnects.
//
// When ctx ends, Run closes the connection, hands back the attempts still
// running (their results wait in memory), waits up to 4 s for their handlers
// to return and returns nil. Call Drain before ending ctx to finish attempts
// and deliver their results: Drain needs Run's connection. Run returns an
// error only when it cannot start: masterAddr is nil or Run is already
// active.
func (w *Worker) Run(ctx context.Context, masterAddr func() string) error {
	if masterAddr == nil {
		return errors.New(
			"run worker: masterAddr is nil: pass a function that returns the master's task address")
	}
	if !w.runActive.CompareAndSwap(false, true) {
		return errors.New("run worker: Run is already active on this worker: call it once at a time")
	}
	defer w.runActive.Store(false)
	defer w.stop()

	var bo backoff
	failures := 0
	waitingForAddr := false
	for ctx.Err() == nil {
		addr := masterAddr()
		if addr == "" {
			if !waitingForAddr {
				w.log.Info("waiting for the master's task address")
				waitingForAddr = true
			}
			sleepCtx(ctx, addrPollInterval)
			continue
		}
		waitingForAddr = false

		welcomed, err := w.connect(ctx, addr)
		if ctx.Err() != nil {
			if welcomed {
				w.log.Info("disconnected from master: the worker is stopping", "master", addr)
			}
			break
		}
		if welcomed {
			bo.reset()
			failures = 0
			w.log.Warn("disconnected from master", "master", addr, "err", err)
		} else {
			failures++
			w.logConnectFailure(addr, err, failures)
		}
		sleepCtx(ctx, bo.next())
	}
	return nil
}

// logConnectFailure logs the first failure in a row and every 20th at warn
// level and the rest at debug level. A Reject is always logged, at error
// level, by the handshake.
func (w *Worker) logConnectFailure(addr string, err error, failures int) {
	if errors.Is(err, errRejected) {
		return
	}
	level := w.log.Debug
	if failures == 1 || failures%20 == 0 {
		level = w.log.Warn
	}
	level("cannot connect to master; retrying", "master", addr, "failures", failures, "err", err)
}

// stop ends Run: it hands back the attempts still running and waits for
// their handlers.
func (w *Worker) stop() {
	w.mu.Lock()
	n := w.handBackAllLocked("worker stopped")
	w.mu.Unlock()
	if n > 0 {
		w.log.Warn("worker stopped with attempts running; handed them back", "handed_back", n)
	}
	w.waitHandlersReturned(stopGrace)
}

// waitHandlersReturned waits up to limit for every handler to return.
func (w *Worker) waitHandlersReturned(limit time.Duration) {
	ok := w.waitFor(nil, time.Now().Add(limit), func() bool { return len(w.attempts) == 0 })
	if !ok {
		w.mu.Lock()
		n := len(w.attempts)
		w.mu.Unlock()
		w.log.Warn("handlers still running after cancellation", "running", n, "waited", limit)
	}
}

// connect runs one connection to the master. It reports whether the master
// welcomed the worker, and why the connection ended.
func (w *Worker) connect(ctx context.Context, addr string) (bool, error) {
	dialer := net.Dialer{Timeout: w.cfg.DialTimeout}
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, fmt.Errorf("dial master %s: %w", addr, err)
	}
	defer nc.Close()
	stopClose := context.AfterFunc(ctx, func() { nc.Close() })
	defer stopClose()

	stream, binding, err := w.startTLS(ctx, nc, addr)
	if err != nil {
		return false, err
	}
	_ = stream.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := wire.WritePreamble(stream); err != nil {
		return false, fmt.Errorf("write preamble to master %s: %w", addr, w.describeTLSError(addr, err))
	}
	_ = stream.SetWriteDeadline(time.Time{})
	conn := wire.NewConn(stream, w.cfg.MaxFrameBytes, writeTimeout)
	defer conn.Close()

	welcome, err := w.handshake(conn, addr, binding)
	if err != nil {
		return false, err
	}
	s := w.startSession(conn, addr, welcome)
	err = w.serve(ctx, s)
	w.endSession(s)
	return true, err
}

// handshake sends Hello and waits for Welcome. binding is the TLS
// session's channel binding, nil on plain TCP.
func (w *Worker) handshake(conn *wire.Conn, addr string, binding []byte) (wire.Welcome, error) {
	var welcome wire.Welcome
	w.mu.Lock()
	hello := w.helloLocked()
	w.mu.Unlock()
	key := w.gossipKey()
	if key != nil {
		nonce, err := wire.NewNonce()
		if err != nil {
			return welcome, err
		}
		hello.Nonce = nonce
	}
	if err := conn.Send(wire.TypeHello, &hello); err != nil {
		return welcome, fmt.Errorf("send hello to master %s: %w", addr, err)
	}

	typ, body, err := w.recvHandshake(conn, addr)
	if err != nil {
		return welcome, err
	}
	if typ == wire.TypeChallenge {
		if typ, body, err = w.answerChallenge(conn, addr, body, key, binding); err != nil {
			return welcome, err
		}
	} else if typ == wire.TypeWelcome && key != nil {
		return welcome, fmt.Errorf("master %s welcomed the worker without a challenge, so it has no gossip key while this worker has one: give both the same encrypt or keyring_file", addr)
	}

	switch typ {
	case wire.TypeWelcome:
		if err := conn.Decode(body, &welcome); err != nil {
			return welcome, fmt.Errorf("invalid welcome from master %s: %w", addr, err)
		}
		if welcome.HeartbeatInterval <= 0 || welcome.HeartbeatTimeout <= 0 {
			return welcome, fmt.Errorf(
				"invalid welcome from master %s: heartbeat interval %s and timeout %s must be positive",
				addr, time.Duration(welcome.HeartbeatInterval), time.Duration(welcome.HeartbeatTimeout))
		}
		if key != nil && !wire.VerifyMasterProof(key, hello.Nonce, w.cfg.Node, binding, welcome.Proof) {
			return welcome, fmt.Errorf("master %s did not prove that it holds the gossip key: it may be an impostor, or its encrypt or keyring_file differs from this worker's", addr)
		}
		return welcome, nil
	case wire.TypeReject:
		var reject wire.Reject
		if err := conn.Decode(body, &reject); err != nil {
			return welcome, fmt.Errorf("invalid reject from master %s: %w", addr, err)
		}
		w.log.Error("master rejected the worker; retrying", "master", addr, "reason", reject.Reason)
		return welcome, fmt.Errorf("%w: %s", errRejected, reject.Reason)
	default:
		return welcome, fmt.Errorf("unexpected %s frame (type %d) from master %s: want welcome or reject",
			typ, uint8(typ), addr)
	}
}

// recvHandshake reads the master's next handshake frame.
func (w *Worker) recvHandshake(conn *wire.Conn, addr string) (wire.Type, []byte, error) {
	_ = conn.SetReadDeadline(time.Now().Add(welcomeTimeout))
	typ, body, err := conn.Recv()
	if err != nil {
		if isTimeout(err) {
			return 0, nil, fmt.Errorf("master %s sent no welcome within %s", addr, welcomeTimeout)
		}
		return 0, nil, fmt.Errorf("wait for welcome from master %s: %w", addr, w.describeTLSError(addr, err))
	}
	return typ, body, nil
}

func (w *Worker) gossipKey() []byte {
	if w.cfg.GossipKey == nil {
		return nil
	}
	return w.cfg.GossipKey()
}

// answerChallenge proves to the master that the worker holds key and
// returns the master's next frame.
func (w *Worker) answerChallenge(conn *wire.Conn, addr string, body, key, binding []byte) (wire.Type, []byte, error) {
	if key == nil {
		return 0, nil, fmt.Errorf("master %s requires task connection authentication, but this worker has no gossip key: set encrypt or keyring_file to the cluster's key", addr)
	}
	var challenge wire.Challenge
	if err := conn.Decode(body, &challenge); err != nil {
		return 0, nil, fmt.Errorf("invalid challenge from master %s: %w", addr, err)
	}
	if len(challenge.Nonce) != wire.NonceSize {
		return 0, nil, fmt.Errorf("invalid challenge from master %s: nonce of %d bytes, expected %d", addr, len(challenge.Nonce), wire.NonceSize)
	}
	mac, err := wire.AuthMAC(key, challenge.Nonce, w.cfg.Node, binding)
	if err != nil {
		return 0, nil, err
	}
	if err := conn.Send(wire.TypeAuth, &wire.Auth{MAC: mac}); err != nil {
		return 0, nil, fmt.Errorf("send auth to master %s: %w", addr, err)
	}
	return w.recvHandshake(conn, addr)
}

// helloLocked builds the Hello for a new connection.
func (w *Worker) helloLocked() wire.Hello {
	hello := wire.Hello{
		Node:     w.cfg.Node,
		Version:  w.cfg.Version,
		Slots:    w.slots,
		Types:    slices.Clone(w.types),
		Draining: w.draining,

		GossipAddr: w.cfg.GossipAddr,

		Queues:      slices.Clone(w.cfg.Queues),
		StrictOrder: w.cfg.StrictOrder,
	}
	hello.Running = w.fitRefs(hello, w.unfinishedRefsLocked())
	return hello
}

// unfinishedRefsLocked lists the attempts the master may still wait for:
// running ones first, then those whose result was not delivered, newest
// first.
func (w *Worker) unfinishedRefsLocked() []wire.AttemptRef {
	refs := make([]wire.AttemptRef, 0, len(w.byRef)+len(w.outbox.unsent))
	seen := make(map[attemptKey]bool, cap(refs))
	for key, a := range w.byRef {
		if !a.stale {
			refs = append(refs, key.ref())
			seen[key] = true
		}
	}
	for i := len(w.outbox.unsent) - 1; i >= 0; i-- {
		res := w.outbox.unsent[i]
		key := attemptKey{taskID: res.TaskID, attempt: res.Attempt}
		if !seen[key] {
			refs = append(refs, key.ref())
			seen[key] = true
		}
	}
	return refs
}

// fitRefs returns the longest prefix of refs that keeps hello within one
// frame. Results of attempts left out are still sent after the welcome.
func (w *Worker) fitRefs(hello wire.Hello, refs []wire.AttemptRef) []wire.AttemptRef {
	const arrayHeader = 5 // msgpack array32 header
	base, err := wire.Marshal(&hello)
	if err != nil {
		return refs // Send reports the same error
	}
	budget := w.cfg.MaxFrameBytes - 1 - len(base) - arrayHeader
	for i, ref := range refs {
		body, err := wire.Marshal(&ref)
		if err != nil {
			return refs
		}
		budget -= len(body)
		if budget < 0 {
			w.log.Warn("hello lists only the attempts that fit in one frame",
				"listed", i, "unfinished", len(refs), "max_frame_bytes", w.cfg.MaxFrameBytes)
			return refs[:i]
		}
	}
	return refs
}

// startSession applies the welcome and makes s the current connection.
func (w *Worker) startSession(conn *wire.Conn, addr string, welcome wire.Welcome) *session {
	interval := time.Duration(welcome.HeartbeatInterval)
	s := &session{
		conn:       conn,
		addr:       addr,
		interval:   interval,
		timeout:    time.Duration(welcome.HeartbeatTimeout),
		confirmAge: 2*writeTimeout + interval,
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.markStaleLocked(welcome.Stale)
	w.session = s
	w.master = addr
	resent := w.flushUnsentLocked(s)
	w.notifyLocked()
	w.log.Info("connected to master", "master", addr, "master_node", welcome.Master,
		"heartbeat_interval", s.interval, "heartbeat_timeout", s.timeout,
		"running", len(w.byRef), "results_resent", resent, "stale", len(welcome.Stale))
	return s
}

// endSession makes the worker disconnected. Results sent on s that were not
// confirmed wait for the next connection.
func (w *Worker) endSession(s *session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.session != s {
		return
	}
	w.session = nil
	w.outbox.requeueSent()
	w.notifyLocked()
}
