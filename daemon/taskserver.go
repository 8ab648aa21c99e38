package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbd-dev/lbd/membership"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/wire"
)

// handshakeTimeout bounds the whole handshake of a new task connection:
// preamble, Hello and, with an encrypted gossip, Challenge and Auth. A peer
// that stalls is closed after it.
const handshakeTimeout = 5 * time.Second

// handshakeMaxFrame caps the Hello frame, so that a peer that has not
// identified itself cannot make the master read a large frame.
const handshakeMaxFrame = 4 << 20

// memberWait is how long a handshake waits for gossip to report the
// connecting worker: its join and its dial race each other.
const memberWait = 3 * time.Second

// taskServer accepts task connections from workers on the master and ties
// each to the scheduler.
type taskServer struct {
	ln        net.Listener
	sched     *scheduler.Scheduler
	members   *membership.Membership
	node      string
	maxFrame  int
	hbEvery   time.Duration
	hbTimeout time.Duration
	log       *slog.Logger
	connError func() // counts a rejected connection or one that ended with an error

	// keys returns the gossip keys that a worker's Auth may use, the
	// primary first; nil means task connections are not authenticated.
	keys func() [][]byte

	// tls is nil when task connections are plain TCP.
	tls *taskTLS

	limits *connLimits // connections per remote IP and pending handshakes

	mu     sync.Mutex
	conns  map[*workerConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// workerConn is one worker's task connection.
type workerConn struct {
	srv    *taskServer
	conn   *wire.Conn
	handle *scheduler.WorkerHandle
	name   string
	log    *slog.Logger

	since       time.Time          // when the handshake completed
	resultCount atomic.Uint64      // Result frames processed, acknowledged in heartbeats
	batch       []scheduler.Result // results read together, reused by results
	closeOnce   sync.Once
	reason      string
	done        chan struct{}
}

func (s *taskServer) serve() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("task listener failed", "addr", s.ln.Addr().String(), "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		host, ok := s.limits.reserve(nc.RemoteAddr())
		if !ok {
			s.countConnError()
			nc.Close()
			continue
		}
		if !s.track(1) {
			s.limits.release(host)
			nc.Close()
			return
		}
		go func() {
			defer s.wg.Done()
			defer s.limits.release(host)
			wc := s.handshake(nc)
			s.limits.handshakeDone()
			if wc != nil {
				wc.run()
			}
		}()
	}
}

// countConnError counts a task connection that was rejected or ended with
// an error.
func (s *taskServer) countConnError() {
	if s.connError != nil {
		s.connError()
	}
}

// track counts n new goroutines unless the server is closed.
func (s *taskServer) track(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(n)
	return true
}

// handshake runs the handshake of a new task connection and returns the
// admitted worker's connection, or nil after it closed the connection.
func (s *taskServer) handshake(nc net.Conn) *workerConn {
	remote := nc.RemoteAddr().String()
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(15 * time.Second)
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))

	stream := nc
	var tlsConn *tls.Conn
	if s.tls != nil {
		tlsConn = s.startTLS(nc, remote)
		if tlsConn == nil {
			return nil
		}
		stream = tlsConn
	}
	if err := wire.ReadPreamble(stream); err != nil {
		s.rejectPreamble(nc, remote, err)
		return nil
	}
	conn := wire.NewConn(stream, s.maxFrame, s.hbTimeout)
	conn.SetMaxFrame(min(s.maxFrame, handshakeMaxFrame))
	hello, err := readHello(conn)
	if err != nil {
		s.log.Warn("task connection rejected", "remote", remote, "err", err)
		s.countConnError()
		conn.Close()
		return nil
	}

	var binding []byte
	if tlsConn != nil {
		if binding, err = s.checkTLSPeer(tlsConn, hello); err != nil {
			s.reject(conn, hello, remote, "task connection rejected", err)
			return nil
		}
	}

	authKey, err := s.authenticate(conn, hello, binding)
	if err != nil {
		s.log.Warn("task connection rejected: authentication failed", "worker", hello.Node, "remote", remote, "err", err)
		s.countConnError()
		conn.Send(wire.TypeReject, &wire.Reject{Reason: "authentication failed: give the worker the cluster's gossip key (encrypt or keyring_file)"})
		conn.Flush(time.Second)
		conn.Close()
		return nil
	}

	wc, err := s.admit(conn, hello, remote, authKey, binding)
	if err != nil {
		s.reject(conn, hello, remote, "worker rejected", err)
		return nil
	}
	return wc
}

// reject logs why the worker of hello is rejected, sends it the reason in
// a Reject frame and closes the connection.
func (s *taskServer) reject(conn *wire.Conn, hello *wire.Hello, remote, msg string, err error) {
	s.log.Warn(msg, "worker", hello.Node, "remote", remote, "err", err)
	s.countConnError()
	conn.Send(wire.TypeReject, &wire.Reject{Reason: err.Error()})
	conn.Flush(time.Second)
	conn.Close()
}

func readHello(conn *wire.Conn) (*wire.Hello, error) {
	typ, body, err := conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if typ != wire.TypeHello {
		return nil, fmt.Errorf("first frame is %s, expected hello", typ)
	}
	var h wire.Hello
	if err := conn.Decode(body, &h); err != nil {
		return nil, err
	}
	if h.Node == "" {
		return nil, fmt.Errorf("hello has no node name")
	}
	return &h, nil
}

// authenticate sends a Challenge and checks the worker's Auth against
// every gossip key, so that workers on either side of a key rotation get
// in. On TLS, binding is the session's channel binding, which the Auth
// must include. It does nothing when gossip is not encrypted.
// It returns the key that the worker's Auth matched, nil without
// encryption.
func (s *taskServer) authenticate(conn *wire.Conn, h *wire.Hello, binding []byte) ([]byte, error) {
	if s.keys == nil {
		return nil, nil
	}
	keys := s.keys()
	if len(keys) == 0 {
		return nil, nil
	}
	nonce, err := wire.NewNonce()
	if err != nil {
		return nil, err
	}
	if err := conn.Send(wire.TypeChallenge, &wire.Challenge{Nonce: nonce}); err != nil {
		return nil, fmt.Errorf("send challenge: %w", err)
	}
	typ, body, err := conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("read auth: %w", err)
	}
	if typ != wire.TypeAuth {
		return nil, fmt.Errorf("response to the challenge is a %s frame, expected auth: the worker has no gossip key or runs an older lbd", typ)
	}
	var auth wire.Auth
	if err := conn.Decode(body, &auth); err != nil {
		return nil, err
	}
	key := wire.MatchAuth(keys, nonce, h.Node, binding, auth.MAC)
	if key == nil {
		return nil, errors.New("the worker's auth matches no key of the gossip keyring: its encrypt or keyring_file differs from the master's")
	}
	return key, nil
}

// admit checks that the worker is a gossip member, registers it with the
// scheduler and sends Welcome.
func (s *taskServer) admit(conn *wire.Conn, h *wire.Hello, remote string, authKey, binding []byte) (*workerConn, error) {
	if err := s.waitMember(h, remote); err != nil {
		return nil, err
	}
	wc := &workerConn{
		srv:   s,
		conn:  conn,
		name:  h.Node,
		log:   s.log.With("worker", h.Node, "remote", remote),
		done:  make(chan struct{}),
		since: time.Now(),
	}
	running := make([]scheduler.AttemptRef, len(h.Running))
	for i, r := range h.Running {
		running[i] = scheduler.AttemptRef{ID: r.TaskID, Attempt: r.Attempt}
	}

	// Welcome must precede any Assign on the connection, so the sender
	// holds assignments until it is written.
	sender := &connSender{conn: conn, hold: true}
	handle, stale, err := s.sched.AddWorker(scheduler.WorkerSpec{
		Name: h.Node, Addr: remote, Slots: h.Slots, Types: h.Types,
		Draining: h.Draining, Running: running,
		Queues: schedulerQueues(h.Queues), StrictOrder: h.StrictOrder,
	}, sender)
	if err != nil {
		return nil, err
	}
	wc.handle = handle

	welcome := &wire.Welcome{
		Master:            s.node,
		HeartbeatInterval: int64(s.hbEvery),
		HeartbeatTimeout:  int64(s.hbTimeout),
	}
	if authKey != nil && len(h.Nonce) == wire.NonceSize {
		proof, err := wire.MasterProof(authKey, h.Nonce, h.Node, binding)
		if err != nil {
			s.sched.RemoveWorker(handle, "master proof failed: "+err.Error())
			return nil, err
		}
		welcome.Proof = proof
	}
	for _, r := range stale {
		welcome.Stale = append(welcome.Stale, wire.AttemptRef{TaskID: r.ID, Attempt: r.Attempt})
	}
	if err := conn.Send(wire.TypeWelcome, welcome); err != nil {
		s.sched.RemoveWorker(handle, "welcome not sent: "+err.Error())
		return nil, err
	}
	sender.release()
	conn.SetMaxFrame(s.maxFrame)

	if !s.add(wc) {
		s.sched.RemoveWorker(handle, "master shutting down")
		return nil, fmt.Errorf("master is shutting down")
	}
	wc.log.Info("worker connected", "slots", h.Slots, "types", h.Types, "version", h.Version,
		"adopted", len(h.Running)-len(stale), "stale", len(stale))
	return wc, nil
}

func (s *taskServer) waitMember(h *wire.Hello, remote string) error {
	name := h.Node
	deadline := time.Now().Add(memberWait)
	if _, ok := s.members.Member(name); !ok && sameHost(h.GossipAddr, remote) {
		// A master that restarted does not know its workers until they
		// gossip with it again; join the worker's gossip address at once.
		if err := s.members.JoinAddr(h.GossipAddr); err != nil {
			s.log.Warn("join of connecting worker failed", "worker", name, "gossip", h.GossipAddr, "err", err)
		}
	}
	for {
		m, ok := s.members.Member(name)
		if ok && m.Meta.Role == wire.RoleWorker {
			return nil
		}
		if ok {
			return fmt.Errorf("node %s has role %q in gossip, not worker", name, m.Meta.Role)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s is not an alive member of this gossip cluster: start the worker with -join pointing at this cluster", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameHost reports whether a worker's gossip address has the IP of its
// task connection. Only then does the master join it: a task connection
// must not make the master join an arbitrary address.
func sameHost(gossipAddr, remote string) bool {
	gh, _, err := net.SplitHostPort(gossipAddr)
	if err != nil {
		return false
	}
	rh, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	return gh == rh
}

func (s *taskServer) add(wc *workerConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[wc] = struct{}{}
	return true
}

func (s *taskServer) remove(wc *workerConn) {
	s.mu.Lock()
	delete(s.conns, wc)
	s.mu.Unlock()
}

// dropWorker closes the connection of the named worker that was made
// before a gossip failure or leave reported at the given time. A worker that
// restarted under the same name and connected after that keeps its
// connection.
func (s *taskServer) dropWorker(name, reason string, at time.Time) {
	s.mu.Lock()
	var victims []*workerConn
	for wc := range s.conns {
		if wc.name == name && wc.since.Before(at) {
			victims = append(victims, wc)
		}
	}
	s.mu.Unlock()
	for _, wc := range victims {
		wc.close(reason)
	}
}

// sendDrain requests that the named worker drain. It reports whether the worker
// is connected.
func (s *taskServer) sendDrain(name, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for wc := range s.conns {
		if wc.name == name {
			wc.conn.Send(wire.TypeDrain, &wire.Drain{Reason: reason})
			found = true
		}
	}
	return found
}

// close stops accepting, closes every worker connection and waits for
// their goroutines. The scheduler keeps the workers' attempts as running
// in its store, so that a restarted master can adopt them.
func (s *taskServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*workerConn, 0, len(s.conns))
	for wc := range s.conns {
		conns = append(conns, wc)
	}
	s.mu.Unlock()

	s.ln.Close()
	for _, wc := range conns {
		wc.closeQuiet()
	}
	s.wg.Wait()
}

// run reads the worker's frames until the connection ends, then removes
// the worker from the scheduler.
func (wc *workerConn) run() {
	defer wc.srv.remove(wc)
	if !wc.srv.track(1) {
		wc.close("master shutting down")
		return
	}
	go func() {
		defer wc.srv.wg.Done()
		wc.heartbeat()
	}()

	for {
		wc.conn.SetReadDeadline(time.Now().Add(wc.srv.hbTimeout))
		typ, body, err := wc.conn.Recv()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				wc.srv.countConnError()
			}
			wc.close(readFailure(err, wc.srv.hbTimeout))
			return
		}
		if err := wc.dispatch(typ, body); err != nil {
			wc.srv.countConnError()
			wc.close(err.Error())
			return
		}
	}
}

// maxResultBatch bounds the results that one scheduler call applies.
const maxResultBatch = 256

// results decodes the Result frame in body and the Result frames that
// follow it in the read buffer, and hands them to the scheduler in one
// call. It stops at the first frame of another type, which dispatch then
// handles, and never waits for more bytes from the network.
func (wc *workerConn) results(body []byte) error {
	batch := wc.batch[:0]
	for {
		var r wire.Result
		if err := wc.conn.Decode(body, &r); err != nil {
			return err
		}
		batch = append(batch, scheduler.Result{
			ID: r.TaskID, Attempt: r.Attempt, OK: r.OK, Output: r.Output,
			Error: r.Error, HandedBack: r.HandedBack,
		})
		if len(batch) == maxResultBatch || !wc.conn.FrameBuffered() {
			break
		}
		typ, next, err := wc.conn.Recv()
		if err != nil {
			return err
		}
		if typ != wire.TypeResult {
			wc.complete(batch)
			return wc.dispatch(typ, next)
		}
		body = next
	}
	wc.complete(batch)
	return nil
}

func (wc *workerConn) complete(batch []scheduler.Result) {
	wc.srv.sched.CompleteBatch(wc.handle, batch)
	wc.resultCount.Add(uint64(len(batch)))
	clear(batch)
	wc.batch = batch[:0]
}

func readFailure(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no heartbeat for %s", timeout)
	}
	if errors.Is(err, net.ErrClosed) {
		return "connection closed"
	}
	return "connection lost: " + err.Error()
}

func (wc *workerConn) dispatch(typ wire.Type, body []byte) error {
	sched := wc.srv.sched
	switch typ {
	case wire.TypeResult:
		return wc.results(body)
	case wire.TypeHeartbeat:
	case wire.TypeDrain:
		sched.SetDraining(wc.handle)
	case wire.TypeSlots:
		var m wire.Slots
		if err := wc.conn.Decode(body, &m); err != nil {
			return err
		}
		if err := sched.UpdateWorker(wc.handle, m.Slots, m.Types); err != nil {
			return err
		}
		wc.log.Info("worker slots changed", "slots", m.Slots, "types", m.Types)
	default:
		return fmt.Errorf("unexpected %s frame (type %d) from worker", typ, uint8(typ))
	}
	return nil
}

func (wc *workerConn) heartbeat() {
	ticker := time.NewTicker(wc.srv.hbEvery)
	defer ticker.Stop()
	for {
		select {
		case <-wc.done:
			return
		case <-ticker.C:
			hb := &wire.Heartbeat{Results: wc.resultCount.Load()}
			if err := wc.conn.Send(wire.TypeHeartbeat, hb); err != nil {
				wc.close("heartbeat not sent: " + err.Error())
				return
			}
		}
	}
}

// close ends the connection and requeues the worker's attempts.
func (wc *workerConn) close(reason string) {
	wc.closeOnce.Do(func() {
		wc.reason = reason
		close(wc.done)
		wc.conn.Close()
		wc.srv.sched.RemoveWorker(wc.handle, reason)
		wc.log.Info("worker disconnected", "reason", reason)
	})
}

// closeQuiet ends the connection at master shutdown without requeueing:
// the attempts stay running in the store for adoption after a restart.
func (wc *workerConn) closeQuiet() {
	wc.closeOnce.Do(func() {
		wc.reason = "master shutting down"
		close(wc.done)
		// A last acknowledgement spares the worker a resend of results
		// that this master already recorded.
		wc.conn.Send(wire.TypeHeartbeat, &wire.Heartbeat{Results: wc.resultCount.Load()})
		wc.conn.Flush(time.Second)
		wc.conn.Close()
	})
}

// connSender adapts a worker's connection to scheduler.Sender. While hold
// is set, messages queue in held until release, so that Welcome goes first.
type connSender struct {
	conn *wire.Conn

	mu   sync.Mutex
	hold bool
	held []heldFrame
}

type heldFrame struct {
	typ wire.Type
	msg any
}

func (cs *connSender) Assign(a scheduler.Assignment) {
	cs.send(wire.TypeAssign, &wire.Assign{
		TaskID: a.ID, Attempt: a.Attempt, Type: a.Type,
		Payload: a.Payload, Timeout: int64(a.Timeout),
	})
}

func (cs *connSender) Cancel(id string, attempt uint32) {
	cs.send(wire.TypeCancel, &wire.Cancel{TaskID: id, Attempt: attempt})
}

// send writes or holds one frame. A failed send means the connection is
// broken; its reader sees that and removes the worker, which requeues the
// attempt.
func (cs *connSender) send(typ wire.Type, msg any) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.hold {
		cs.held = append(cs.held, heldFrame{typ, msg})
		return
	}
	cs.conn.Send(typ, msg)
}

func (cs *connSender) release() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, f := range cs.held {
		cs.conn.Send(f.typ, f.msg)
	}
	cs.held = nil
	cs.hold = false
}
