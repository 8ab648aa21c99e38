//go:build linux

package integration

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// payloadMarker is a byte string that appears only in the test's task
// payloads and outputs.
const payloadMarker = "lbd-capture-marker-7f3a9c"

// captureTaskTraffic runs a master in the test's own network namespace
// and one worker in a namespace of its own, runs 20 echo tasks whose
// payloads carry payloadMarker, and returns every TCP payload byte that
// crossed the master's task port.
func captureTaskTraffic(t *testing.T, extra ...string) []byte {
	t.Helper()
	n := clustertest.NewNet(t)
	host := n.HostIP()
	gossip := host + ":" + strconv.Itoa(clustertest.FreePort(t))
	taskPort := clustertest.FreePort(t)
	httpAddr := host + ":" + strconv.Itoa(clustertest.FreePort(t))
	args := append([]string{"-role", "master", "-node", "master", "-bind", gossip,
		"-task-addr", host + ":" + strconv.Itoa(taskPort), "-http-addr", httpAddr,
		"-data-dir", t.TempDir(), "-log-level", "debug"}, extra...)
	clustertest.Start(t, "master", nil, args...)
	api := &clustertest.API{Addr: httpAddr}
	api.WaitHealthy(t, 15*time.Second)

	// The worker reaches the master only through the test's interface,
	// where the capture listens before the worker dials.
	capture := clustertest.StartCapture(t, n.HostInterface(), taskPort)
	ip := n.AddHost("w1")
	n.StartIn(t, "w1", "w1", echoEnv, append([]string{"-role", "worker", "-node", "w1",
		"-bind", ip + ":7946", "-join", gossip, "-log-level", "debug"}, extra...)...)
	api.WaitWorkers(t, 1, 20*time.Second)

	tasks := echoTasks(20, payloadMarker)
	for i, task := range api.WaitFinal(t, api.SubmitBatch(t, tasks), 30*time.Second) {
		if task.Status != "succeeded" || task.Output != tasks[i].Payload {
			t.Fatalf("task %s: %s with output %q, want succeeded with %q", task.ID, task.Status, task.Output, tasks[i].Payload)
		}
	}
	time.Sleep(200 * time.Millisecond) // the last result's acknowledgement
	capture.Stop()
	return capture.Bytes()
}

func TestTaskEncryptionHidesPayload(t *testing.T) {
	skipShort(t)
	key := newKey(t)

	// The control run: without task_encryption the payloads cross the
	// wire as they are, so the capture does see them.
	plain := captureTaskTraffic(t, "-encrypt", key)
	if !bytes.Contains(plain, []byte(payloadMarker)) {
		t.Fatalf("plain run: the marker is absent from %d captured bytes, so the capture does not see the task traffic", len(plain))
	}

	encrypted := captureTaskTraffic(t, "-encrypt", key, "-task-encryption")
	if len(encrypted) < 1000 {
		t.Fatalf("encrypted run: only %d bytes captured, too few for 20 tasks", len(encrypted))
	}
	if bytes.Contains(encrypted, []byte(payloadMarker)) {
		t.Errorf("encrypted run: the payload marker crossed the wire in the clear")
	}
	if encrypted[0] != 0x16 {
		t.Errorf("encrypted run: the connection opened with byte %#x, want 0x16, a TLS handshake record", encrypted[0])
	}
	t.Logf("captured %d bytes plain, %d bytes with task_encryption", len(plain), len(encrypted))
}
