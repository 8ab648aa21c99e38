package integration

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
	"github.com/lbd-dev/lbd/tlsutil"
	"github.com/lbd-dev/lbd/wire"
)

// lbdCommand runs the lbd binary with args and returns its exit code,
// standard output and standard error.
func lbdCommand(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(clustertest.Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return exitCode(err), stdout.String(), stderr.String()
}

// makePKI creates a CA and a certificate for each node with lbd tls-ca
// and lbd tls-cert, in a new directory that it returns. Every
// certificate also names 127.0.0.1.
func makePKI(t *testing.T, nodes ...string) string {
	t.Helper()
	dir := t.TempDir()
	if code, _, errText := lbdCommand(t, nil, "tls-ca", "-out", dir); code != 0 {
		t.Fatalf("lbd tls-ca: exit %d: %s", code, errText)
	}
	for _, node := range nodes {
		issueCert(t, dir, node)
	}
	return dir
}

// issueCert issues, or issues again, the certificate of node from the CA
// in dir.
func issueCert(t *testing.T, dir, node string) {
	t.Helper()
	code, _, errText := lbdCommand(t, nil, "tls-cert", "-ca", dir, "-name", node, "-host", "127.0.0.1,localhost", "-out", dir, "-force")
	if code != 0 {
		t.Fatalf("lbd tls-cert -name %s: exit %d: %s", node, code, errText)
	}
}

// certArgs returns the tls_* flags of node with the certificates in dir.
func certArgs(dir, node string) []string {
	return []string{
		"-tls-ca-file", filepath.Join(dir, "ca.pem"),
		"-tls-cert-file", filepath.Join(dir, node+".pem"),
		"-tls-key-file", filepath.Join(dir, node+"-key.pem"),
	}
}

// logLine returns the first line of p's log that contains every one of
// parts, or "".
func logLine(p *clustertest.Proc, parts ...string) string {
	for line := range strings.Lines(p.Log()) {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if all {
			return line
		}
	}
	return ""
}

// waitLogLine waits for a line of p's log that contains every one of
// parts and returns it.
func waitLogLine(t *testing.T, p *clustertest.Proc, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if line := logLine(p, parts...); line != "" {
			return line
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("log of %s has no line with %q after %s:\n%s", p.Name, parts, timeout, p.Log())
	return ""
}

// echoTasks returns n echo tasks whose payloads start with prefix.
func echoTasks(n int, prefix string) []clustertest.TaskRequest {
	tasks := make([]clustertest.TaskRequest, n)
	for i := range tasks {
		tasks[i] = clustertest.TaskRequest{Type: "echo", Payload: fmt.Sprintf("%s-%d", prefix, i)}
	}
	return tasks
}

// runEchoTasks submits n echo tasks and checks that each succeeds, with
// its payload as output, on one of workers.
func runEchoTasks(t *testing.T, api *clustertest.API, n int, workers ...string) {
	t.Helper()
	tasks := echoTasks(n, "tls")
	for i, task := range api.WaitFinal(t, api.SubmitBatch(t, tasks), 60*time.Second) {
		if task.Status != "succeeded" || task.Output != tasks[i].Payload {
			t.Errorf("task %s: %s with output %q, want succeeded with %q", task.ID, task.Status, task.Output, tasks[i].Payload)
		}
		found := false
		for _, w := range workers {
			found = found || task.Worker == w
		}
		if !found {
			t.Errorf("task %s ran on %q, want one of %v", task.ID, task.Worker, workers)
		}
	}
}

func TestMutualTLSClusterRunsTasks(t *testing.T) {
	skipShort(t)
	dir := makePKI(t, "master", "w1", "w2")
	c := clustertest.StartMaster(t, certArgs(dir, "master")...)
	api := c.API()
	w1 := c.StartWorker("w1", echoEnv, certArgs(dir, "w1")...)
	c.StartWorker("w2", echoEnv, certArgs(dir, "w2")...)
	api.WaitWorkers(t, 2, 20*time.Second)

	runEchoTasks(t, api, 200, "w1", "w2")

	if logLine(c.Master, "master listening", "TLS 1.3 with certificates on both ends") == "" {
		t.Error("master log does not state the task transport")
	}
	if logLine(w1, "connected to master") == "" {
		t.Error("w1 log has no connection to the master")
	}
	key, err := os.ReadFile(filepath.Join(dir, "master-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Split(string(key), "\n")[1]
	if strings.Contains(c.Master.Log(), body) || strings.Contains(c.Master.Log(), "PRIVATE KEY") {
		t.Error("master log contains its private key")
	}
}

func TestWorkerOfAnotherCARejected(t *testing.T) {
	skipShort(t)
	dir := makePKI(t, "master", "good")
	other := makePKI(t, "intruder")

	// The intruder trusts both CAs, so it accepts the master; the master
	// trusts only its own and must turn the intruder away.
	ours, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	theirs, _ := os.ReadFile(filepath.Join(other, "ca.pem"))
	bundle := filepath.Join(other, "bundle.pem")
	if err := os.WriteFile(bundle, append(theirs, ours...), 0o644); err != nil {
		t.Fatal(err)
	}

	c := clustertest.StartMaster(t, certArgs(dir, "master")...)
	api := c.API()
	c.StartWorker("good", echoEnv, certArgs(dir, "good")...)
	intruderArgs := certArgs(other, "intruder")
	intruderArgs[1] = bundle
	intruder := c.StartWorker("intruder", echoEnv, intruderArgs...)
	api.WaitWorkers(t, 1, 20*time.Second)

	line := waitLogLine(t, c.Master, 20*time.Second, "TLS handshake failed", "not by the CA in tls_ca_file")
	if !strings.Contains(line, "remote=127.0.0.1:") {
		t.Errorf("master log line does not name the intruder's address: %s", line)
	}
	waitLog(t, intruder, "rejected this worker's certificate", 10*time.Second)

	runEchoTasks(t, api, 40, "good")
	if workers := api.Workers(t); len(workers) != 1 || workers[0].Node != "good" {
		t.Errorf("workers = %+v, want only good", workers)
	}
}

func TestTLSMismatchRejectedBothWays(t *testing.T) {
	skipShort(t)
	key := newKey(t)

	t.Run("plain worker, TLS master", func(t *testing.T) {
		c := clustertest.StartMaster(t, "-encrypt", key, "-task-encryption")
		w := c.StartWorker("plain", echoEnv, "-encrypt", key)
		line := waitLogLine(t, c.Master, 20*time.Second, "speaks plain TCP", "worker=plain")
		if !strings.Contains(line, "remote=127.0.0.1:") || !strings.Contains(line, "set task_encryption = true") {
			t.Errorf("master log line lacks the address or the fix: %s", line)
		}
		waitLogLine(t, w, 10*time.Second, "master rejected the worker", "this master requires TLS")
		if n := len(c.API().Workers(t)); n != 0 {
			t.Errorf("%d workers connected, want none", n)
		}
	})

	t.Run("TLS worker, plain master", func(t *testing.T) {
		c := clustertest.StartMaster(t, "-encrypt", key)
		w := c.StartWorker("tls", echoEnv, "-encrypt", key, "-task-encryption")
		line := waitLogLine(t, c.Master, 20*time.Second, "the worker speaks TLS")
		if !strings.Contains(line, "remote=127.0.0.1:") {
			t.Errorf("master log line does not name the address: %s", line)
		}
		waitLogLine(t, w, 10*time.Second, "responded in plain TCP", "set task_encryption = true")
		if n := len(c.API().Workers(t)); n != 0 {
			t.Errorf("%d workers connected, want none", n)
		}
	})

	t.Run("plain client answered in time", func(t *testing.T) {
		c := clustertest.StartMaster(t, "-encrypt", key, "-task-encryption")
		start := time.Now()
		conn, typ, body := helloFor(t, c.Task, "raw")
		if typ != wire.TypeReject {
			t.Fatalf("answer to a plain hello is %s, want reject", typ)
		}
		var reject wire.Reject
		conn.Decode(body, &reject)
		if !strings.Contains(reject.Reason, "requires TLS") {
			t.Errorf("reject reason %q does not say TLS is required", reject.Reason)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("reject came after %s, beyond the 5 s handshake deadline", took)
		}
	})
}

// tlsHello opens a TLS task connection with cfg, sends the preamble and a
// Hello for node, and returns the master's response.
func tlsHello(t *testing.T, addr string, cfg *tls.Config, node string) (*wire.Conn, wire.Type, []byte) {
	t.Helper()
	nc := dialTask(t, addr)
	tc := tls.Client(nc, cfg)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if err := wire.WritePreamble(tc); err != nil {
		t.Fatal(err)
	}
	conn := wire.NewConn(tc, wire.DefaultMaxFrame, 5*time.Second)
	t.Cleanup(func() { conn.Close() })
	if err := conn.Send(wire.TypeHello, &wire.Hello{Node: node, Slots: 1, Types: []string{"echo"}}); err != nil {
		t.Fatal(err)
	}
	typ, body, err := conn.Recv()
	if err != nil {
		t.Fatalf("read the answer to hello: %v", err)
	}
	return conn, typ, body
}

func TestWorkerCertificateOfAnotherNodeRejected(t *testing.T) {
	skipShort(t)
	dir := makePKI(t, "master", "w1", "w2")
	c := clustertest.StartMaster(t, certArgs(dir, "master")...)
	api := c.API()
	c.StartWorker("w2", echoEnv, certArgs(dir, "w2")...)
	api.WaitWorkers(t, 1, 20*time.Second)

	// w1's certificate, and a Hello that claims to be w2.
	certs, err := tlsutil.LoadNode(
		tlsutil.File{Path: filepath.Join(dir, "ca.pem"), Setting: "tls_ca_file"},
		tlsutil.File{Path: filepath.Join(dir, "w1.pem"), Setting: "tls_cert_file"},
		tlsutil.File{Path: filepath.Join(dir, "w1-key.pem"), Setting: "tls_key_file"},
		time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, typ, body := tlsHello(t, c.Task, tlsutil.NewStore(certs).ClientConfig("master"), "w2")
	if typ != wire.TypeReject {
		t.Fatalf("answer to a hello under another node's name is %s, want reject", typ)
	}
	var reject wire.Reject
	conn.Decode(body, &reject)
	if !strings.Contains(reject.Reason, `issued to node "w1"`) {
		t.Errorf("reject reason = %q, want it to name the certificate's node", reject.Reason)
	}
	line := waitLogLine(t, c.Master, 5*time.Second, `issued to node \"w1\"`)
	if !strings.Contains(line, "remote=127.0.0.1:") {
		t.Errorf("master log line does not name the address: %s", line)
	}

	// The real w2 keeps its connection and gets the tasks.
	runEchoTasks(t, api, 20, "w2")
}

func TestAPIOverHTTPSWithCLI(t *testing.T) {
	skipShort(t)
	dir := makePKI(t, "master")
	ca := filepath.Join(dir, "ca.pem")
	c := clustertest.StartMasterHTTPS(t, ca, "-api-tls-cert-file", filepath.Join(dir, "master.pem"),
		"-api-tls-key-file", filepath.Join(dir, "master-key.pem"))
	c.StartWorker("w1", echoEnv)
	c.API().WaitWorkers(t, 1, 20*time.Second)
	https := "https://" + c.HTTP

	code, out, errText := lbdCommand(t, nil, "submit", "-http-addr", https, "-api-ca-file", ca, "-type", "echo", "-wait", "over-https")
	if code != 0 || strings.TrimSpace(out) != "over-https" {
		t.Errorf("lbd submit over HTTPS: exit %d, output %q, stderr %q; want 0 and over-https", code, out, errText)
	}

	code, out, errText = lbdCommand(t, []string{"LBD_TLS_CA_FILE=" + ca}, "submit", "-http-addr", https, "-type", "echo", "-wait", "ca-from-env")
	if code != 0 || strings.TrimSpace(out) != "ca-from-env" {
		t.Errorf("lbd submit with LBD_TLS_CA_FILE: exit %d, output %q, stderr %q", code, out, errText)
	}

	code, _, errText = lbdCommand(t, nil, "submit", "-http-addr", https, "-type", "echo", "x")
	if code != 3 {
		t.Errorf("lbd submit without the CA: exit %d, want 3", code)
	}
	if !strings.Contains(errText, "does not trust") || !strings.Contains(errText, "-api-ca-file") {
		t.Errorf("lbd submit without the CA: stderr %q, want it to name -api-ca-file", errText)
	}

	code, _, errText = lbdCommand(t, nil, "status", "-http-addr", c.HTTP)
	if code != 3 {
		t.Errorf("lbd status over plain HTTP: exit %d, want 3", code)
	}
	if !strings.Contains(errText, "serves HTTPS") || !strings.Contains(errText, https) {
		t.Errorf("lbd status over plain HTTP: stderr %q, want it to say use %s", errText, https)
	}

	code, out, errText = lbdCommand(t, nil, "health", "-http-addr", https, "-api-ca-file", ca)
	if code != 0 || strings.TrimSpace(out) != "ok" {
		t.Errorf("lbd health over HTTPS: exit %d, output %q, stderr %q", code, out, errText)
	}
}

// servedCert returns the certificate that a TLS server at addr presents,
// verified against the CA in caFile.
func servedCert(t *testing.T, addr, caFile string) *x509.Certificate {
	t.Helper()
	pool, err := tlsutil.LoadCAFile(tlsutil.File{Path: caFile, Setting: "ca"})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer tc.Close()
	return tc.ConnectionState().PeerCertificates[0]
}

func TestSIGHUPRotatesCertificates(t *testing.T) {
	skipShort(t)
	dir := makePKI(t, "master", "w1", "w2", "w3")
	ca := filepath.Join(dir, "ca.pem")
	args := append(certArgs(dir, "master"),
		"-api-tls-cert-file", filepath.Join(dir, "master.pem"), "-api-tls-key-file", filepath.Join(dir, "master-key.pem"))
	c := clustertest.StartMasterHTTPS(t, ca, args...)
	api := c.API()
	w1 := c.StartWorker("w1", echoEnv, certArgs(dir, "w1")...)
	api.WaitWorkers(t, 1, 20*time.Second)
	first := servedCert(t, c.HTTP, ca)

	// A worker reloads its own certificate the same way.
	issueCert(t, dir, "w1")
	w1.Signal(syscall.SIGHUP)
	waitLog(t, w1, "task connection certificates reloaded", 10*time.Second)

	// Rotate: a new certificate and key under the same file names.
	issueCert(t, dir, "master")
	c.Master.Signal(syscall.SIGHUP)
	waitLog(t, c.Master, "task connection certificates reloaded", 10*time.Second)
	waitLog(t, c.Master, "HTTPS API certificate reloaded", 10*time.Second)
	second := servedCert(t, c.HTTP, ca)
	if second.Equal(first) {
		t.Fatal("the API serves the old certificate after the reload")
	}
	c.StartWorker("w2", echoEnv, certArgs(dir, "w2")...)
	api.WaitWorkers(t, 2, 20*time.Second)
	runEchoTasks(t, api, 40, "w1", "w2")

	// A broken certificate is rejected with the reason, and the master
	// keeps the second one.
	if err := os.WriteFile(filepath.Join(dir, "master.pem"), []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Master.Signal(syscall.SIGHUP)
	line := waitLogLine(t, c.Master, 10*time.Second, "reload failed", "no PEM CERTIFICATE block")
	if !strings.Contains(line, filepath.Join(dir, "master.pem")) {
		t.Errorf("reload failure does not name the file: %s", line)
	}
	if kept := servedCert(t, c.HTTP, ca); !kept.Equal(second) {
		t.Error("the API changed its certificate after a failed reload")
	}
	c.StartWorker("w3", echoEnv, certArgs(dir, "w3")...)
	api.WaitWorkers(t, 3, 20*time.Second)
}

// dribble writes data to nc one byte per second from a goroutine and
// returns how long after its start the peer closed nc.
func dribble(nc net.Conn, data []byte) <-chan time.Duration {
	start := time.Now()
	closed := make(chan time.Duration, 1)
	stop := make(chan struct{})
	go func() {
		for _, b := range data {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := nc.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(stop)
		buf := make([]byte, 512)
		for {
			nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := nc.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					closed <- 30 * time.Second
					return
				}
				closed <- time.Since(start)
				return
			}
		}
	}()
	return closed
}

// clientHello returns the first bytes a TLS client writes: its ClientHello.
func clientHello(t *testing.T) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	go tls.Client(client, &tls.Config{InsecureSkipVerify: true}).Handshake()
	buf := make([]byte, 4096)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := server.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	server.Close()
	return buf[:n]
}

func TestSlowClientsCutOff(t *testing.T) {
	skipShort(t)
	const (
		handshakeDeadline = 5 * time.Second  // daemon's handshakeTimeout
		headerDeadline    = 10 * time.Second // daemon's apiReadHeaderTimeout
		margin            = 2 * time.Second
	)
	key := newKey(t)
	dir := makePKI(t, "master")
	plain := clustertest.StartMaster(t, "-encrypt", key)
	secure := clustertest.StartMasterHTTPS(t, filepath.Join(dir, "ca.pem"), "-encrypt", key, "-task-encryption",
		"-api-tls-cert-file", filepath.Join(dir, "master.pem"), "-api-tls-key-file", filepath.Join(dir, "master-key.pem"))

	request := []byte("GET /v1/status HTTP/1.1\r\nHost: master\r\nUser-Agent: slow\r\n\r\n")
	plainHello := append([]byte("LBD"), wire.ProtocolVersion, 0, 0, 0, 40, byte(wire.TypeHello))
	cases := []struct {
		name     string
		master   *clustertest.Proc
		addr     string
		data     []byte
		deadline time.Duration
		logParts []string
	}{
		{"plain task handshake", plain.Master, plain.Task, plainHello, handshakeDeadline, []string{"task connection rejected", "i/o timeout"}},
		{"TLS task handshake", secure.Master, secure.Task, clientHello(t), handshakeDeadline, []string{"TLS handshake failed", "did not finish the TLS handshake"}},
		{"HTTP headers", plain.Master, plain.HTTP, request, headerDeadline, nil},
		{"HTTPS handshake", secure.Master, secure.HTTP, clientHello(t), headerDeadline, nil},
	}
	results := make([]<-chan time.Duration, len(cases))
	locals := make([]string, len(cases))
	for i, tc := range cases {
		nc := dialTask(t, tc.addr)
		locals[i] = nc.LocalAddr().String()
		results[i] = dribble(nc, tc.data)
	}
	for i, tc := range cases {
		took := <-results[i]
		t.Logf("%s: cut off after %s (deadline %s)", tc.name, took.Round(10*time.Millisecond), tc.deadline)
		if took > tc.deadline+margin {
			t.Errorf("%s: cut off after %s, want within %s plus %s", tc.name, took, tc.deadline, margin)
		}
		if took < tc.deadline-margin {
			t.Errorf("%s: cut off after %s, well before the %s deadline: something else closed it", tc.name, took, tc.deadline)
		}
		if tc.logParts != nil {
			parts := append([]string{"remote=" + locals[i]}, tc.logParts...)
			waitLogLine(t, tc.master, 5*time.Second, parts...)
		}
	}
}
