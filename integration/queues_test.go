package integration

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// placedTask is the part of the task JSON that queues and delays add.
type placedTask struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Queue    string    `json:"queue"`
	Priority int       `json:"priority"`
	RunAt    time.Time `json:"run_at"`
	Started  time.Time `json:"started"`
	Output   string    `json:"output"`
}

func submitPlaced(t *testing.T, api *clustertest.API, body map[string]any) string {
	t.Helper()
	var out struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	code, err := api.Do("POST", "/v1/tasks", body, &out)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("submit %v: code %d, err %v, error %q", body, code, err, out.Error)
	}
	return out.ID
}

func getPlaced(t *testing.T, api *clustertest.API, id string) placedTask {
	t.Helper()
	var task placedTask
	if code, err := api.Do("GET", "/v1/tasks/"+id, nil, &task); err != nil || code != http.StatusOK {
		t.Fatalf("get task %s: code %d, err %v", id, code, err)
	}
	return task
}

// TestDelayedTaskSurvivesMasterKill submits a delayed task to a named
// queue, kills the master before the task is due, and checks that the
// restarted master runs it on the worker that serves the queue, not before
// its run_at.
func TestDelayedTaskSurvivesMasterKill(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	api := c.API()
	c.StartWorker("w1", echoEnv, "-queues", "later=2,default=1")
	api.WaitWorkers(t, 1, 20*time.Second)

	id := submitPlaced(t, api, map[string]any{"type": "echo", "payload": "due", "queue": "later", "priority": 3, "delay": "4s"})
	unserved := submitPlaced(t, api, map[string]any{"type": "echo", "queue": "nobody"})
	before := getPlaced(t, api, id)
	if before.Status != "scheduled" || before.Queue != "later" || before.Priority != 3 || before.RunAt.IsZero() {
		t.Fatalf("task before restart = %+v, want scheduled in later with priority 3 and a run_at", before)
	}

	c.Master.Signal(syscall.SIGKILL)
	c.Master.Restart(t)
	api.WaitHealthy(t, 15*time.Second)

	after := getPlaced(t, api, id)
	if after.Status != "scheduled" || !after.RunAt.Equal(before.RunAt) || after.Queue != "later" {
		t.Fatalf("task after restart = %+v, want scheduled in later at %v", after, before.RunAt)
	}
	final := api.WaitFinal(t, []string{id}, time.Minute)[0]
	if final.Status != "succeeded" || final.Output != "due" {
		t.Fatalf("task = %s %q, want succeeded \"due\"", final.Status, final.Output)
	}
	done := getPlaced(t, api, id)
	if done.Started.Before(before.RunAt) {
		t.Errorf("attempt started at %v, before run_at %v", done.Started, before.RunAt)
	}
	if task := getPlaced(t, api, unserved); task.Status != "queued" {
		t.Errorf("task of a queue no worker serves is %s, want queued", task.Status)
	}
}
