package integration

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// The tests in this file run a 60 s task and take its worker away 5 s in,
// so they run in parallel with each other, after the other tests.

// waitInBackground starts one long GET ?wait request, as a client that
// waits on its task does, and returns the task it gets back.
func waitInBackground(api *clustertest.API, id string) <-chan clustertest.Task {
	out := make(chan clustertest.Task, 1)
	go func() {
		var task clustertest.Task
		code, err := api.Do("GET", "/v1/tasks/"+id+"?wait=120s", nil, &task)
		if err != nil || code != http.StatusOK {
			task.Status = "wait failed"
		}
		out <- task
	}()
	return out
}

func TestLongTaskWorkerKilledAtFive(t *testing.T) {
	skipShort(t)
	t.Parallel()
	c := clustertest.StartMaster(t)
	workers := map[string]*clustertest.Proc{
		"w1": c.StartWorker("w1", echoEnv, "-population", "1"),
		"w2": c.StartWorker("w2", echoEnv, "-population", "1"),
	}
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "60s"}})[0]
	waited := waitInBackground(api, id)
	first := waitRunning(t, api, id, "", 5*time.Second)
	time.Sleep(5 * time.Second)

	workers[first.Worker].Signal(syscall.SIGKILL)
	killed := time.Now()
	second := waitRunning(t, api, id, first.Worker, 5*time.Second)
	if moved := time.Since(killed); moved > 2*time.Second {
		t.Errorf("task restarted %s after its worker was killed, want well under 2s", moved)
	}

	select {
	case task := <-waited:
		if task.Status != "succeeded" || task.Worker != second.Worker || task.Output != "slept 1m0s" {
			t.Errorf("the waiting client got %s %q on %s, want succeeded on %s", task.Status, task.Output, task.Worker, second.Worker)
		}
	case <-time.After(100 * time.Second):
		t.Fatal("the waiting client got nothing within 100s")
	}
}

func TestLongTaskWorkerCutOffAtFive(t *testing.T) {
	skipShort(t)
	t.Parallel()
	c := startNetCluster(t, "w1", "w2")

	id := c.api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "60s"}})[0]
	waited := waitInBackground(c.api, id)
	first := waitRunning(t, c.api, id, "", 5*time.Second)
	time.Sleep(5 * time.Second)

	c.net.Cut(first.Worker) // its packets are dropped: no connection close is ever seen
	cut := time.Now()
	second := waitRunning(t, c.api, id, first.Worker, 15*time.Second)
	if moved := time.Since(cut); moved > 6*time.Second {
		t.Errorf("task moved %s after the cut, want within the 2s heartbeat timeout plus margin", moved)
	}

	select {
	case task := <-waited:
		if task.Status != "succeeded" || task.Worker != second.Worker {
			t.Errorf("the waiting client got %s on %s, want succeeded on %s", task.Status, task.Worker, second.Worker)
		}
	case <-time.After(100 * time.Second):
		t.Fatal("the waiting client got nothing within 100s")
	}
}
