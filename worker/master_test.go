package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// waitLimit bounds every wait in these tests for something that should
// happen at once.
const waitLimit = 5 * time.Second

// testMaster is the master side of the task protocol over real TCP on
// 127.0.0.1. It accepts connections and passes each one, with its Hello, to
// the test, which replies with Welcome or Reject.
type testMaster struct {
	ln    net.Listener
	conns chan *masterConn

	mu   sync.Mutex
	open []*wire.Conn // closed when the test ends
}

func newTestMaster(t *testing.T) *testMaster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	m := &testMaster{ln: ln, conns: make(chan *masterConn, 16)}
	go m.acceptLoop()
	t.Cleanup(func() {
		ln.Close()
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, conn := range m.open {
			conn.Close()
		}
	})
	return m
}

func (m *testMaster) addr() string { return m.ln.Addr().String() }

func (m *testMaster) acceptLoop() {
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			return
		}
		c, err := openMasterConn(nc)
		if err != nil {
			nc.Close()
			continue
		}
		m.mu.Lock()
		m.open = append(m.open, c.conn)
		m.mu.Unlock()
		m.conns <- c
	}
}

// accept returns the next connection whose Hello arrived.
func (m *testMaster) accept(t *testing.T) *masterConn {
	t.Helper()
	select {
	case c := <-m.conns:
		return c
	case <-time.After(waitLimit):
		t.Fatalf("no worker connected to the test master within %s", waitLimit)
		return nil
	}
}

// expectNoConn fails if a worker connects within d.
func (m *testMaster) expectNoConn(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-m.conns:
		t.Fatalf("worker reconnected unexpectedly (hello %+v)", c.hello)
	case <-time.After(d):
	}
}

// masterConn is the test master's side of one worker connection.
type masterConn struct {
	conn  *wire.Conn
	hello wire.Hello

	results    chan wire.Result
	heartbeats chan wire.Heartbeat
	others     chan frame    // every other frame type
	closed     chan struct{} // closed when the read loop ends

	mu         sync.Mutex
	allResults []wire.Result
}

type frame struct {
	typ  wire.Type
	body []byte
}

func openMasterConn(nc net.Conn) (*masterConn, error) {
	_ = nc.SetReadDeadline(time.Now().Add(waitLimit))
	if err := wire.ReadPreamble(nc); err != nil {
		return nil, err
	}
	conn := wire.NewConn(nc, wire.DefaultMaxFrame, waitLimit)
	typ, body, err := conn.Recv()
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &masterConn{
		conn:       conn,
		results:    make(chan wire.Result, 1024),
		heartbeats: make(chan wire.Heartbeat, 1024),
		others:     make(chan frame, 1024),
		closed:     make(chan struct{}),
	}
	if typ != wire.TypeHello {
		conn.Close()
		return nil, errors.New("first frame is " + typ.String())
	}
	if err := conn.Decode(body, &c.hello); err != nil {
		conn.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Time{})
	return c, nil
}

// welcomeOptions shape the Welcome and the heartbeats that follow it.
type welcomeOptions struct {
	interval time.Duration // default 100ms
	timeout  time.Duration // default 2s
	stale    []wire.AttemptRef
	silent   bool   // send no heartbeats
	proofKey []byte // gossip key to prove in Welcome.Proof; nil sends none
}

// welcome accepts the worker and starts reading its frames.
func (c *masterConn) welcome(t *testing.T, opts welcomeOptions) {
	t.Helper()
	if opts.interval == 0 {
		opts.interval = 100 * time.Millisecond
	}
	if opts.timeout == 0 {
		opts.timeout = 2 * time.Second
	}
	msg := wire.Welcome{
		Master:            "test-master",
		HeartbeatInterval: int64(opts.interval),
		HeartbeatTimeout:  int64(opts.timeout),
		Stale:             opts.stale,
	}
	if opts.proofKey != nil {
		proof, err := wire.MasterProof(opts.proofKey, c.hello.Nonce, c.hello.Node, nil)
		if err != nil {
			t.Fatal(err)
		}
		msg.Proof = proof
	}
	c.send(t, wire.TypeWelcome, &msg)
	go c.readLoop()
	if !opts.silent {
		go c.heartbeatLoop(opts.interval)
	}
}

func (c *masterConn) reject(t *testing.T, reason string) {
	t.Helper()
	c.send(t, wire.TypeReject, &wire.Reject{Reason: reason})
	c.conn.Flush(waitLimit)
	c.conn.Close()
}

func (c *masterConn) send(t *testing.T, typ wire.Type, v any) {
	t.Helper()
	if err := c.conn.Send(typ, v); err != nil {
		t.Fatalf("test master: send %s: %v", typ, err)
	}
}

func (c *masterConn) assign(t *testing.T, taskID, taskType, payload string, timeout time.Duration) {
	t.Helper()
	c.send(t, wire.TypeAssign, &wire.Assign{
		TaskID: taskID, Attempt: 1, Type: taskType, Payload: []byte(payload), Timeout: int64(timeout),
	})
}

func (c *masterConn) readLoop() {
	defer close(c.closed)
	for {
		typ, body, err := c.conn.Recv()
		if err != nil {
			return
		}
		switch typ {
		case wire.TypeResult:
			var res wire.Result
			if c.conn.Decode(body, &res) != nil {
				return
			}
			c.mu.Lock()
			c.allResults = append(c.allResults, res)
			c.mu.Unlock()
			c.results <- res
		case wire.TypeHeartbeat:
			var hb wire.Heartbeat
			if c.conn.Decode(body, &hb) != nil {
				return
			}
			select {
			case c.heartbeats <- hb:
			default:
			}
		default:
			c.others <- frame{typ: typ, body: bytes.Clone(body)}
		}
	}
}

func (c *masterConn) heartbeatLoop(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-ticker.C:
		}
		if c.conn.Send(wire.TypeHeartbeat, &wire.Heartbeat{}) != nil {
			return
		}
	}
}

// result waits for the Result of taskID, attempt 1, skipping others.
func (c *masterConn) result(t *testing.T, taskID string) wire.Result {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case res := <-c.results:
			if res.TaskID == taskID && res.Attempt == 1 {
				return res
			}
		case <-c.closed:
			t.Fatalf("connection closed before the result of %s arrived", taskID)
		case <-deadline:
			t.Fatalf("no result for %s within %s", taskID, waitLimit)
		}
	}
}

// resultsSeen returns every Result received on this connection so far.
func (c *masterConn) resultsSeen() []wire.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wire.Result(nil), c.allResults...)
}

// frame waits for the next frame of typ among those that are neither Result
// nor Heartbeat, and decodes it into v.
func (c *masterConn) frame(t *testing.T, typ wire.Type, v any) {
	t.Helper()
	select {
	case f := <-c.others:
		if f.typ != typ {
			t.Fatalf("got a %s frame, want %s", f.typ, typ)
		}
		if err := wire.Unmarshal(f.body, v); err != nil {
			t.Fatalf("decode %s frame: %v", typ, err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("no %s frame within %s", typ, waitLimit)
	}
}

// testLogger returns a logger whose output the test prints when it fails,
// and a function that returns the output so far.
func testLogger(t *testing.T) (*slog.Logger, func() string) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	read := func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", read())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), read
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// startWorker creates a worker for cfg and runs it against m until the test
// ends. Node and Logger get defaults.
func startWorker(t *testing.T, m *testMaster, cfg Config) *Worker {
	t.Helper()
	if cfg.Node == "" {
		cfg.Node = "worker-1"
	}
	if cfg.Logger == nil {
		cfg.Logger, _ = testLogger(t)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, m.addr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after its context ended, want nil", err)
			}
		case <-time.After(waitLimit + stopGrace):
			t.Errorf("Run did not return within %s after its context ended", waitLimit+stopGrace)
		}
	})
	return w
}

// connectWorker starts a worker and welcomes its first connection.
func connectWorker(t *testing.T, cfg Config) (*Worker, *testMaster, *masterConn) {
	t.Helper()
	m := newTestMaster(t)
	w := startWorker(t, m, cfg)
	c := m.accept(t)
	c.welcome(t, welcomeOptions{})
	waitUntil(t, "worker connected", func() bool { return w.Stats().Connected })
	return w, m, c
}

// waitUntil polls cond until it holds or waitLimit passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid has exited. A zombie counts as exited
// because PID 1 of a container may never reap it.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, rest, ok := strings.Cut(string(stat), ") ")
	return ok && strings.HasPrefix(rest, "Z")
}

// readPIDs reads one pid per line from path, waiting until it has want.
func readPIDs(t *testing.T, path string, want int) []int {
	t.Helper()
	var pids []int
	waitUntil(t, "pid file "+path+" lists "+strconv.Itoa(want)+" pids", func() bool {
		data, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pids = pids[:0]
		for _, line := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(line)
			if err != nil {
				return false
			}
			pids = append(pids, pid)
		}
		return len(pids) >= want
	})
	return pids
}

// handlersFor returns a handler map with echo and sleep plus extra.
func handlersFor(extra map[string]Handler) map[string]Handler {
	handlers := map[string]Handler{"echo": Echo(), "sleep": Sleep()}
	for name, h := range extra {
		handlers[name] = h
	}
	return handlers
}

// atomicString is a string that goroutines share.
type atomicString struct {
	mu sync.Mutex
	s  string
}

func (a *atomicString) Load() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.s
}

func (a *atomicString) Store(s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.s = s
}
