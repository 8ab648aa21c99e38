package integration

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// rssKiB returns a process's resident memory from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func TestOversizedFrameHeaders(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	before := rssKiB(t, c.Master.Pid())

	attacks := map[string][]byte{
		// Five bytes that a msgpack decoder would read as a 4 GiB
		// string header, with no preamble.
		"bare msgpack header": {0xdb, 0xff, 0xff, 0xff, 0xff},
		// A valid preamble, then a frame header declaring 4 GiB.
		"huge frame": append([]byte("LBD\x01"), binary.BigEndian.AppendUint32(nil, 0xffffffff)...),
	}
	for name, payload := range attacks {
		conn, err := net.Dial("tcp", c.Task)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(payload); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 1)
		_, err = conn.Read(buf)
		if err == nil {
			t.Errorf("%s: master kept the connection open and sent data", name)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: master did not close the connection within 15s", name)
		}
		conn.Close()
	}

	after := rssKiB(t, c.Master.Pid())
	if after-before > 64*1024 {
		t.Errorf("master RSS grew from %d KiB to %d KiB after hostile headers", before, after)
	}
	// The log reaches the test through a pipe, so it may lag the close.
	for _, want := range []string{"not an lbd task connection", "exceeds the limit"} {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(c.Master.Log(), want) {
			if time.Now().After(deadline) {
				t.Errorf("master log lacks %q", want)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The master still serves workers.
	c.StartWorker("w1", echoEnv, "-population", "1")
	c.API().WaitWorkers(t, 1, 15*time.Second)
}

func TestHugePayloadRejectedOthersServed(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	c.StartWorker("w1", echoEnv, "-population", "4")
	api := c.API()
	api.WaitWorkers(t, 1, 15*time.Second)

	var wg sync.WaitGroup
	wg.Add(1)
	var bigCode int
	var bigBody string
	go func() {
		defer wg.Done()
		body := bytes.NewReader(append(append([]byte(`{"type":"echo","payload":"`), bytes.Repeat([]byte("a"), 200<<20)...), []byte(`"}`)...))
		resp, err := http.Post("http://"+c.HTTP+"/v1/tasks", "application/json", body)
		if err != nil {
			bigBody = err.Error()
			return
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		bigCode, bigBody = resp.StatusCode, buf.String()
	}()

	// Other clients carry on while the big request is read and rejected.
	ids := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "echo", Payload: "small"}})
	task := api.WaitFinal(t, ids, 30*time.Second)[0]
	if task.Status != "succeeded" || task.Output != "small" {
		t.Errorf("small task = %s %q, want succeeded", task.Status, task.Output)
	}
	wg.Wait()
	if bigCode != http.StatusRequestEntityTooLarge {
		t.Errorf("200 MiB payload: status %d (%s), want 413", bigCode, bigBody)
	}
	if !strings.Contains(bigBody, "max_payload_bytes") && !strings.Contains(bigBody, "limit") {
		t.Errorf("413 body %q does not name the limit", bigBody)
	}
}

func TestNobodyConsumingMemoryLevelsOff(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-max-queued-tasks", "20000", "-max-queued-bytes", "16MiB", "-durability", "none")
	api := c.API()
	payload := strings.Repeat("x", 1024)

	// RSS is sampled after 50 rejected rounds, when the heap has grown
	// to the size that the garbage of rejected requests keeps it at, and
	// again 150 rejected rounds later.
	accepted, rejected := 0, 0
	var rssSettled, rssLater int
	for round := 0; round < 400 && rejected < 200; round++ {
		reqs := make([]clustertest.TaskRequest, 500)
		for i := range reqs {
			reqs[i] = clustertest.TaskRequest{Type: "nobody-runs-this", Payload: payload}
		}
		var out struct {
			IDs   []string `json:"ids"`
			Error string   `json:"error"`
		}
		code, err := api.Do("POST", "/v1/tasks/batch", reqs, &out)
		if err != nil {
			t.Fatal(err)
		}
		switch code {
		case http.StatusCreated, http.StatusOK:
			accepted += len(out.IDs)
		case http.StatusTooManyRequests:
			rejected++
			if rejected == 50 {
				rssSettled = rssKiB(t, c.Master.Pid())
			}
		default:
			t.Fatalf("round %d: status %d: %s", round, code, out.Error)
		}
	}
	if rejected < 200 {
		t.Fatalf("only %d submits rejected, want the queue to report full", rejected)
	}
	rssLater = rssKiB(t, c.Master.Pid())
	t.Logf("accepted %d tasks of 1 KiB; RSS %d KiB after 50 rejected submits, %d KiB after 200", accepted, rssSettled, rssLater)
	if rssLater > rssSettled*12/10 {
		t.Errorf("RSS grew from %d KiB to %d KiB while every submit was rejected", rssSettled, rssLater)
	}

	var status struct {
		Queued      int   `json:"queued"`
		QueuedBytes int64 `json:"queued_bytes"`
	}
	if _, err := api.Do("GET", "/v1/status", nil, &status); err != nil {
		t.Fatal(err)
	}
	if status.Queued != accepted {
		t.Errorf("queue depth = %d, want the %d accepted tasks", status.Queued, accepted)
	}
	if status.QueuedBytes > 16<<20 {
		t.Errorf("queued bytes = %d, over the 16 MiB limit", status.QueuedBytes)
	}
}

func TestConfigTypoStopsStartup(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lbd.hcl")
	text := "role = \"master\"\nadvertize = \"10.0.0.5\"\nworker {\n  popluation = 4\n  builtins = [\"echo\"]\n}\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(clustertest.Binary(t), "validate", "-config", file).CombinedOutput()
	if code := exitCode(err); code == 0 {
		t.Errorf("lbd validate exit code = 0, want non-zero:\n%s", out)
	}
	for _, want := range []string{file + ":2:1", `did you mean "advertise"`, file + ":4:3", `did you mean "population"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("lbd validate output lacks %q:\n%s", want, out)
		}
	}

	port := strconv.Itoa(clustertest.FreePort(t))
	cmd := exec.Command(clustertest.Binary(t), "-config", file, "-http-addr", "127.0.0.1:"+port)
	out, err = cmd.CombinedOutput()
	if code := exitCode(err); code == 0 {
		t.Errorf("start-up with a typo exit code = 0, want non-zero")
	}
	if !bytes.Contains(out, []byte(`did you mean "advertise"`)) {
		t.Errorf("start-up output lacks the suggestion:\n%s", out)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		conn.Close()
		t.Error("the HTTP port is open: part of the bad config was applied")
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func TestMasterSIGTERMExitsCleanKeepsTasks(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	api := c.API()
	reqs := make([]clustertest.TaskRequest, 100)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "echo", Payload: strconv.Itoa(i)}
	}
	ids := api.SubmitBatch(t, reqs)

	c.Master.Signal(syscall.SIGTERM)
	if !c.Master.Wait(15 * time.Second) {
		t.Fatal("master did not exit within 15s of SIGTERM")
	}
	if code := c.Master.ExitCode(); code != 0 {
		t.Errorf("master exit code = %d, want 0", code)
	}

	c.Master.Restart(t)
	api.WaitHealthy(t, 15*time.Second)
	c.StartWorker("w1", echoEnv, "-population", "8")
	for i, task := range api.WaitFinal(t, ids, time.Minute) {
		if task.Status != "succeeded" || task.Output != strconv.Itoa(i) {
			t.Errorf("task %d = %s %q after a clean master restart, want succeeded", i, task.Status, task.Output)
		}
	}
}
