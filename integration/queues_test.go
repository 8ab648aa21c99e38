package integration

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
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

// queueState returns one queue of GET /v1/queues.
func queueState(t *testing.T, client *clustertest.API, name string) api.Queue {
	t.Helper()
	var out api.QueuesResponse
	if code, err := client.Do("GET", "/v1/queues", nil, &out); err != nil || code != http.StatusOK {
		t.Fatalf("list queues: code %d, err %v", code, err)
	}
	for _, q := range out.Queues {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("queue %s is not in GET /v1/queues: %+v", name, out.Queues)
	return api.Queue{}
}

func queueAction(t *testing.T, client *clustertest.API, name, action string) {
	t.Helper()
	var out api.QueueActionResponse
	if code, err := client.Do("POST", "/v1/queues/"+name+"/"+action, nil, &out); err != nil || code != http.StatusOK {
		t.Fatalf("%s queue %s: code %d, err %v", action, name, code, err)
	}
}

// TestPausedQueueSurvivesMasterKill pauses a queue with tasks, kills the
// master with SIGKILL and checks that the restarted master keeps the queue
// paused while its worker runs the tasks of another queue, and runs the
// paused tasks once the queue is resumed.
func TestPausedQueueSurvivesMasterKill(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	client := c.API()
	c.StartWorker("w1", echoEnv, "-queues", "held=1,default=1")
	client.WaitWorkers(t, 1, 20*time.Second)

	queueAction(t, client, "held", "pause")
	var heldIDs []string
	for i := range 3 {
		heldIDs = append(heldIDs, submitPlaced(t, client, map[string]any{"type": "echo", "payload": fmt.Sprintf("held %d", i), "queue": "held"}))
	}
	if q := queueState(t, client, "held"); !q.Paused || q.Queued != 3 {
		t.Fatalf("queue held before the kill = %+v, want paused with 3 queued", q)
	}

	c.Master.Signal(syscall.SIGKILL)
	c.Master.Restart(t)
	client.WaitHealthy(t, 15*time.Second)

	if q := queueState(t, client, "held"); !q.Paused || q.Queued != 3 {
		t.Fatalf("queue held after the restart = %+v, want paused with 3 queued", q)
	}
	client.WaitWorkers(t, 1, 20*time.Second)
	// A task of the other queue runs, so the worker is back and takes
	// tasks, and the held ones stay queued all the same.
	other := submitPlaced(t, client, map[string]any{"type": "echo", "payload": "other"})
	if got := client.WaitFinal(t, []string{other}, 30*time.Second)[0]; got.Status != "succeeded" {
		t.Fatalf("task of the default queue = %s, want succeeded", got.Status)
	}
	for _, id := range heldIDs {
		if task := getPlaced(t, client, id); task.Status != "queued" || !task.Started.IsZero() {
			t.Errorf("task %s of the paused queue is %s (started %v), want queued and never started", id, task.Status, task.Started)
		}
	}

	queueAction(t, client, "held", "resume")
	for i, task := range client.WaitFinal(t, heldIDs, 30*time.Second) {
		if want := fmt.Sprintf("held %d", i); task.Status != "succeeded" || task.Output != want {
			t.Errorf("task %s = %s %q, want succeeded %q", heldIDs[i], task.Status, task.Output, want)
		}
	}
	if q := queueState(t, client, "held"); q.Paused || q.Queued != 0 {
		t.Errorf("queue held after resume = %+v, want not paused and empty", q)
	}
}
