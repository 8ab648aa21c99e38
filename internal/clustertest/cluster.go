// Package clustertest starts real lbd processes on loopback for integration
// tests: a master on free ports and workers that join it through gossip,
// each with its log captured, plus a small JSON client for the master's API.
package clustertest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of an lbd binary: $LBDTEST_BINARY when set (make
// test sets it), else one built once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LBDTEST_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lbd-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "lbd")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/lbd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/lbd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Proc is one running lbd process.
type Proc struct {
	Name string
	Args []string
	Env  []string

	program string // "" runs the lbd binary; otherwise this program with Args
	log     *syncBuffer

	mu   sync.Mutex // guards cmd and done, which Restart replaces
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs lbd with args and extra environment variables. The process
// is killed when the test ends if it still runs.
func Start(t testing.TB, name string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Args: args, Env: env, log: &syncBuffer{}, done: make(chan struct{})}
	p.start(t)
	t.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		p.Wait(10 * time.Second)
		if t.Failed() {
			t.Logf("log of %s:\n%s", p.Name, p.Log())
		}
	})
	return p
}

func (p *Proc) start(t testing.TB) {
	t.Helper()
	program := p.program
	if program == "" {
		program = Binary(t)
	}
	cmd := exec.Command(program, p.Args...)
	cmd.Env = append(cleanEnv(), p.Env...)
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		cmd.Wait()
		close(done)
	}()
}

// current returns the running (or last) command and its done channel.
func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// Restart starts the process again with the same arguments after it exited.
func (p *Proc) Restart(t testing.TB) {
	t.Helper()
	if !p.Wait(10 * time.Second) {
		t.Fatalf("restart %s: the old process still runs", p.Name)
	}
	p.log.Write([]byte("----- restart -----\n"))
	p.start(t)
}

// cleanEnv is the test's environment without LBD_* variables, so that a
// developer's settings do not leak into the cluster under test.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if len(kv) >= 4 && kv[:4] == "LBD_" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Pid returns the process id.
func (p *Proc) Pid() int {
	cmd, _ := p.current()
	return cmd.Process.Pid
}

// Signal sends sig to the process; it does nothing after the process ended.
func (p *Proc) Signal(sig syscall.Signal) {
	cmd, done := p.current()
	select {
	case <-done:
	default:
		cmd.Process.Signal(sig)
	}
}

// Wait waits up to timeout for the process to end and reports whether it did.
func (p *Proc) Wait(timeout time.Duration) bool {
	_, done := p.current()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// ExitCode returns the exit code, -1 while running or after a signal.
func (p *Proc) ExitCode() int {
	cmd, done := p.current()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Log returns everything the process wrote so far.
func (p *Proc) Log() string { return p.log.String() }

// Cluster is a master and its workers.
type Cluster struct {
	t          testing.TB
	Master     *Proc
	HTTP       string // master API address
	Gossip     string // master gossip address, the workers' seed
	Task       string // master task address
	DataDir    string
	MasterArgs []string

	api *API
}

// StartMaster starts a master on free loopback ports with a durable store
// in a temporary directory. extra args come last and win.
func StartMaster(t testing.TB, extra ...string) *Cluster {
	t.Helper()
	return startMaster(t, &API{}, extra)
}

// StartMasterHTTPS starts a master like StartMaster whose API serves
// HTTPS, and whose API client trusts the CA certificates of caFile. extra
// must set api_tls_cert_file and api_tls_key_file.
func StartMasterHTTPS(t testing.TB, caFile string, extra ...string) *Cluster {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("CA file %s contains no certificate", caFile)
	}
	return startMaster(t, &API{HTTPS: true, RootCAs: pool}, extra)
}

func startMaster(t testing.TB, api *API, extra []string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, DataDir: t.TempDir(), api: api}
	// FreePort's ports are free when it returns, but another process can
	// take one before the master binds it. A master that exits for that
	// reason is started again on new ports.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		c.HTTP = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		c.Gossip = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		c.Task = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		api.Addr = c.HTTP
		c.MasterArgs = append([]string{
			"-role", "master", "-node", "master",
			"-bind", c.Gossip, "-task-addr", c.Task, "-http-addr", c.HTTP,
			"-data-dir", c.DataDir, "-log-level", "debug",
		}, extra...)
		c.Master = Start(t, "master", nil, c.MasterArgs...)
		if c.waitHealthyOrExit(15*time.Second) || attempt == attempts ||
			!strings.Contains(c.Master.Log(), "already in use") {
			break
		}
		t.Logf("master exited because a port was taken (attempt %d of %d); starting it on other ports", attempt, attempts)
	}
	c.API().WaitHealthy(t, time.Second)
	return c
}

// waitHealthyOrExit reports whether GET /healthz on the master returns 200
// within timeout. It returns false at once when the master process exits.
func (c *Cluster) waitHealthyOrExit(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.Master.ExitCode() != -1 {
			return false
		}
		if code, err := c.API().Do("GET", "/healthz", nil, nil); err == nil && code == 200 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// StartWorker starts a worker that joins the master. env declares its
// handlers (LBD_HANDLER_*, LBD_BUILTINS); extra args come last.
func (c *Cluster) StartWorker(name string, env []string, extra ...string) *Proc {
	c.t.Helper()
	args := append([]string{
		"-role", "worker", "-node", name, "-bind", "127.0.0.1:0",
		"-join", c.Gossip, "-log-level", "debug",
	}, extra...)
	return Start(c.t, name, env, args...)
}

// API returns a client for the master's HTTP API.
func (c *Cluster) API() *API {
	api := *c.api
	return &api
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
