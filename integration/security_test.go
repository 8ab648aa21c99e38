package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
	"github.com/lbd-dev/lbd/wire"
)

// newKey returns a random 32-byte gossip key in base64.
func newKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key)
}

// memberNames returns the node names in the master's gossip view.
func memberNames(t *testing.T, api *clustertest.API) []string {
	t.Helper()
	var view struct {
		Members []struct {
			Node string `json:"node"`
		} `json:"members"`
	}
	if code, err := api.Do("GET", "/v1/members", nil, &view); err != nil || code != 200 {
		t.Fatalf("GET /v1/members = %d, %v; want 200", code, err)
	}
	var names []string
	for _, m := range view.Members {
		names = append(names, m.Node)
	}
	return names
}

func TestWrongGossipKeyCannotJoin(t *testing.T) {
	skipShort(t)
	key := newKey(t)
	c := clustertest.StartMaster(t, "-encrypt", key)
	api := c.API()
	c.StartWorker("good", echoEnv, "-encrypt", key, "-population", "2")
	wrong := c.StartWorker("wrong-key", echoEnv, "-encrypt", newKey(t), "-population", "2")
	none := c.StartWorker("no-key", echoEnv, "-population", "2")
	api.WaitWorkers(t, 1, 15*time.Second)

	// Both intruders try to join and say why they cannot.
	waitLog(t, wrong, "gossip key", 15*time.Second)
	waitLog(t, none, "gossip key", 15*time.Second)
	waitLog(t, c.Master, "gossip key mismatch", 15*time.Second)
	if strings.Contains(c.Master.Log(), key) || strings.Contains(wrong.Log(), key) {
		t.Error("a log contains the gossip key")
	}

	tasks := make([]clustertest.TaskRequest, 40)
	for i := range tasks {
		tasks[i] = clustertest.TaskRequest{Type: "echo", Payload: "x"}
	}
	for _, task := range api.WaitFinal(t, api.SubmitBatch(t, tasks), 30*time.Second) {
		if task.Status != "succeeded" || task.Worker != "good" {
			t.Errorf("task %s: %s on %q, want succeeded on \"good\"", task.ID, task.Status, task.Worker)
		}
	}
	if names := memberNames(t, api); len(names) != 2 {
		t.Errorf("master's gossip view = %v, want master and good only", names)
	}
	if workers := api.Workers(t); len(workers) != 1 || workers[0].Node != "good" {
		t.Errorf("workers = %+v, want only \"good\"", workers)
	}
}

// dialTask opens a raw TCP connection to the master's task port.
func dialTask(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial task port %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// expectClosed fails unless the master closes nc within limit. Frames the
// master sends before closing (a Challenge, a Reject) are skipped.
func expectClosed(t *testing.T, nc net.Conn, limit time.Duration) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("master kept the connection open for %s", limit)
		}
		return
	}
}

// helloFor opens a task connection that sends the preamble and a Hello for
// node, and returns the master's answer.
func helloFor(t *testing.T, addr, node string) (*wire.Conn, wire.Type, []byte) {
	t.Helper()
	nc := dialTask(t, addr)
	if err := wire.WritePreamble(nc); err != nil {
		t.Fatal(err)
	}
	conn := wire.NewConn(nc, wire.DefaultMaxFrame, 5*time.Second)
	t.Cleanup(func() { conn.Close() })
	if err := conn.Send(wire.TypeHello, &wire.Hello{Node: node, Slots: 1, Types: []string{"echo"}}); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, body, err := conn.Recv()
	if err != nil {
		t.Fatalf("read the answer to hello: %v", err)
	}
	return conn, typ, body
}

func TestTaskPortDropsUnauthenticated(t *testing.T) {
	skipShort(t)
	key := newKey(t)
	c := clustertest.StartMaster(t, "-encrypt", key)

	// A client that opens the connection and sends nothing is closed after
	// the handshake deadline of 5 s.
	start := time.Now()
	expectClosed(t, dialTask(t, c.Task), 10*time.Second)
	if took := time.Since(start); took > 7*time.Second {
		t.Errorf("silent client closed after %s, want about 5s", took)
	}

	// A client that skips the answer to the challenge is rejected.
	conn, typ, body := helloFor(t, c.Task, "skipper")
	if typ != wire.TypeChallenge {
		t.Fatalf("answer to hello is %s, want challenge", typ)
	}
	var challenge wire.Challenge
	if err := conn.Decode(body, &challenge); err != nil || len(challenge.Nonce) != wire.NonceSize {
		t.Fatalf("challenge nonce of %d bytes (err %v), want %d", len(challenge.Nonce), err, wire.NonceSize)
	}
	conn.Send(wire.TypeHeartbeat, &wire.Heartbeat{})
	expectRejected(t, conn)

	// A client that answers with a MAC of another key is rejected.
	conn, typ, body = helloFor(t, c.Task, "forger")
	if typ != wire.TypeChallenge {
		t.Fatalf("answer to hello is %s, want challenge", typ)
	}
	conn.Decode(body, &challenge)
	mac, err := wire.AuthMAC(bytes.Repeat([]byte{9}, 32), challenge.Nonce, "forger", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.Send(wire.TypeAuth, &wire.Auth{MAC: mac})
	expectRejected(t, conn)

	waitLog(t, c.Master, "authentication failed", 5*time.Second)
	if !strings.Contains(c.Master.Log(), "remote=127.0.0.1:") {
		t.Error("master log does not name the remote address of the rejected client")
	}
	if workers := c.API().Workers(t); len(workers) != 0 {
		t.Errorf("workers = %+v, want none", workers)
	}

	// A worker with the key still gets in.
	c.StartWorker("w1", echoEnv, "-encrypt", key)
	c.API().WaitWorkers(t, 1, 15*time.Second)
}

// expectRejected fails unless the next frame is a Reject and the master
// then closes the connection.
func expectRejected(t *testing.T, conn *wire.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, _, err := conn.Recv()
	if err != nil {
		t.Fatalf("read reject: %v", err)
	}
	if typ != wire.TypeReject {
		t.Fatalf("answer to a bad auth is %s, want reject", typ)
	}
	if _, _, err := conn.Recv(); err == nil {
		t.Fatal("master kept the connection open after the reject")
	}
}

func TestKeyRotationBySIGHUP(t *testing.T) {
	skipShort(t)
	oldKey, newKeyText := newKey(t), newKey(t)
	dir := t.TempDir()
	masterRing, workerRing := filepath.Join(dir, "master.keys"), filepath.Join(dir, "worker.keys")
	write := func(path string, keys ...string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("# primary first\n"+strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(masterRing, oldKey)
	write(workerRing, oldKey)

	c := clustertest.StartMaster(t, "-keyring-file", masterRing)
	api := c.API()
	w := c.StartWorker("w1", echoEnv, "-keyring-file", workerRing)
	api.WaitWorkers(t, 1, 15*time.Second)

	steps := []struct {
		name string
		keys []string
	}{
		{"add the new key", []string{oldKey, newKeyText}},
		{"make the new key primary", []string{newKeyText, oldKey}},
		{"remove the old key", []string{newKeyText}},
	}
	for i, step := range steps {
		write(masterRing, step.keys...)
		write(workerRing, step.keys...)
		for _, p := range []*clustertest.Proc{c.Master, w} {
			before := strings.Count(p.Log(), "gossip keyring reloaded")
			p.Signal(syscall.SIGHUP)
			waitCount(t, p, "gossip keyring reloaded", before+1, 10*time.Second)
		}
		ids := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "echo", Payload: step.name}})
		if task := api.WaitFinal(t, ids, 15*time.Second)[0]; task.Status != "succeeded" || task.Worker != "w1" {
			t.Fatalf("step %d (%s): task %s on %q, want succeeded on w1", i+1, step.name, task.Status, task.Worker)
		}
		if names := memberNames(t, api); len(names) != 2 {
			t.Fatalf("step %d (%s): gossip view = %v, want master and w1", i+1, step.name, names)
		}
	}
	for _, p := range []*clustertest.Proc{c.Master, w} {
		if strings.Contains(p.Log(), oldKey) || strings.Contains(p.Log(), newKeyText) {
			t.Errorf("log of %s contains a gossip key", p.Name)
		}
	}

	// After the rotation a worker with only the new key joins and gets
	// tasks; one with only the old key cannot join.
	c.StartWorker("w2", echoEnv, "-encrypt", newKeyText)
	stale := c.StartWorker("w-old", echoEnv, "-encrypt", oldKey)
	api.WaitWorkers(t, 2, 15*time.Second)
	waitLog(t, stale, "gossip key", 15*time.Second)
	for _, wk := range api.Workers(t) {
		if wk.Node == "w-old" {
			t.Error("a worker with the removed key got a task connection")
		}
	}
}

// waitCount waits until want occurs n times in the log of p.
func waitCount(t *testing.T, p *clustertest.Proc, want string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.Log(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log of %s has %q %d times after %s, want %d:\n%s",
				p.Name, want, strings.Count(p.Log(), want), timeout, n, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusWith sends GET path to the master with the given Authorization
// header ("" for none) and returns the status code and body.
func statusWith(t *testing.T, addr, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestAPIRequiresToken(t *testing.T) {
	skipShort(t)
	token := newKey(t)
	c := clustertest.StartMaster(t, "-api-token", token)

	checks := []struct {
		path, auth string
		want       int
	}{
		{"/v1/status", "", http.StatusUnauthorized},
		{"/v1/tasks", "Bearer not-the-token-at-all", http.StatusUnauthorized},
		{"/v1/status", "Bearer " + token, http.StatusOK},
		{"/healthz", "", http.StatusOK},
		{"/metrics", "", http.StatusOK},
		{"/", "", http.StatusOK},
	}
	for _, ck := range checks {
		got, body := statusWith(t, c.HTTP, ck.path, ck.auth)
		if got != ck.want {
			t.Errorf("GET %s with %q = %d, want %d; body %s", ck.path, ck.auth, got, ck.want, body)
		}
	}

	// The CLI sends the token from LBD_API_TOKEN or -api-token.
	lbd := clustertest.Binary(t)
	cli := func(env []string, args ...string) (int, string) {
		cmd := exec.Command(lbd, append(args, "-http-addr", c.HTTP)...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		out, err := cmd.CombinedOutput()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("run lbd %v: %v", args, err)
		}
		return code, string(out)
	}
	if code, out := cli(nil, "status"); code != 4 || !strings.Contains(out, "API token") {
		t.Errorf("lbd status without a token: exit %d, output %q; want 4 and a message naming the API token", code, out)
	}
	if code, out := cli([]string{"LBD_API_TOKEN=" + token}, "status"); code != 0 {
		t.Errorf("lbd status with LBD_API_TOKEN: exit %d, output %q; want 0", code, out)
	}
	if code, out := cli(nil, "workers", "-api-token", token); code != 0 {
		t.Errorf("lbd workers -api-token: exit %d, output %q; want 0", code, out)
	}
	if strings.Contains(c.Master.Log(), token) {
		t.Error("master log contains the API token")
	}
}

func TestTaskPortConnectionLimits(t *testing.T) {
	skipShort(t)
	tests := []struct {
		name, flag, logText string
	}{
		{"per address", "-max-conns-per-addr", "too many connections from one address"},
		{"pending handshakes", "-max-pending-handshakes", "too many handshakes in progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clustertest.StartMaster(t, tt.flag, "2")
			// Two silent clients hold both places until the 5 s handshake
			// deadline; a third is closed at once.
			dialTask(t, c.Task)
			dialTask(t, c.Task)
			third := dialTask(t, c.Task)
			start := time.Now()
			expectClosed(t, third, 4*time.Second)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("third connection closed after %s, want at once", took)
			}
			waitLog(t, c.Master, tt.logText, 5*time.Second)
		})
	}
}

func TestHTTPConnectionLimit(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-max-http-conns", "2")
	// The harness's client keeps connections to the master open; close
	// them so that only this test's connections count.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)

	// Two idle connections take both slots.
	var idle []net.Conn
	for range 2 {
		nc, err := net.Dial("tcp", c.HTTP)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		idle = append(idle, nc)
	}
	time.Sleep(200 * time.Millisecond) // let the master accept both

	get := func(timeout time.Duration) error {
		// A transport of its own: the harness's shared one may hold a
		// connection to the master that is accepted already.
		client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get("http://" + c.HTTP + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(time.Second); err == nil {
		t.Fatal("GET /healthz was served with max_http_conns = 2 and 2 connections open, want it to wait")
	}

	idle[0].Close()
	start := time.Now()
	if err := get(5 * time.Second); err != nil {
		t.Fatalf("GET /healthz after a connection closed: %v", err)
	}
	t.Logf("served %s after a slot was freed", time.Since(start))
	waitLog(t, c.Master, "HTTP connection limit reached", 5*time.Second)
}
