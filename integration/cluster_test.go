// Package integration runs real lbd processes on loopback: a master and
// workers that find each other through gossip and run real handlers.
package integration

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

var echoEnv = []string{"LBD_BUILTINS=echo,sleep"}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of lbd processes; skipped with -short")
	}
}

func TestEchoThousandTasksTwoWorkers(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	c.StartWorker("w1", echoEnv, "-population", "8")
	c.StartWorker("w2", echoEnv, "-population", "8")
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	reqs := make([]clustertest.TaskRequest, 1000)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "echo", Payload: "payload-" + strconv.Itoa(i)}
	}
	ids := api.SubmitBatch(t, reqs)
	tasks := api.WaitFinal(t, ids, time.Minute)

	perWorker := map[string]int{}
	for i, task := range tasks {
		if task.Status != "succeeded" {
			t.Errorf("task %d (%s) is %s: %s", i, task.ID, task.Status, task.Error)
			continue
		}
		if want := "payload-" + strconv.Itoa(i); task.Output != want {
			t.Errorf("task %d output = %q, want %q", i, task.Output, want)
		}
		perWorker[task.Worker]++
	}
	if perWorker["w1"] == 0 || perWorker["w2"] == 0 {
		t.Errorf("tasks per worker = %v, want both workers to run some", perWorker)
	}
	if perWorker["w1"]+perWorker["w2"] != 1000 {
		t.Errorf("tasks per worker = %v, want 1000 in all", perWorker)
	}
}

func TestFastWorkerRunsMore(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	c.StartWorker("fast", []string{`LBD_HANDLER_WORK=["cat"]`}, "-population", "2")
	c.StartWorker("slow", []string{`LBD_HANDLER_WORK=["sh", "-c", "sleep 0.3; cat"]`}, "-population", "2")
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	reqs := make([]clustertest.TaskRequest, 40)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "work", Payload: strconv.Itoa(i)}
	}
	tasks := api.WaitFinal(t, api.SubmitBatch(t, reqs), time.Minute)

	count := map[string]int{}
	for i, task := range tasks {
		if task.Status != "succeeded" || task.Output != strconv.Itoa(i) {
			t.Errorf("task %d = %s %q, want succeeded %q", i, task.Status, task.Output, strconv.Itoa(i))
		}
		count[task.Worker]++
	}
	if count["fast"] <= 2*count["slow"] {
		t.Errorf("fast ran %d, slow ran %d; want the fast worker to run well over twice as many", count["fast"], count["slow"])
	}
}

func TestWorkerJoiningMidRunGetsTasks(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	c.StartWorker("w1", echoEnv, "-population", "2")
	api := c.API()
	api.WaitWorkers(t, 1, 15*time.Second)

	reqs := make([]clustertest.TaskRequest, 60)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "sleep", Payload: "200ms"}
	}
	ids := api.SubmitBatch(t, reqs)

	time.Sleep(500 * time.Millisecond)
	joinStart := time.Now()
	c.StartWorker("w3", echoEnv, "-population", "4")
	tasks := api.WaitFinal(t, ids, 2*time.Minute)

	var first time.Time
	late := 0
	for _, task := range tasks {
		if task.Status != "succeeded" {
			t.Errorf("task %s is %s: %s", task.ID, task.Status, task.Error)
		}
		if task.Worker != "w3" {
			continue
		}
		late++
		started, err := time.Parse(time.RFC3339Nano, task.Started)
		if err != nil {
			t.Fatalf("task %s started %q: %v", task.ID, task.Started, err)
		}
		if first.IsZero() || started.Before(first) {
			first = started
		}
	}
	if late == 0 {
		t.Fatal("the worker that joined mid-run ran no task")
	}
	// Process start, gossip join and the task handshake all fit in this
	// bound on a loaded 2-core machine; the figure itself is measured by
	// the benchmark.
	if d := first.Sub(joinStart); d > 5*time.Second {
		t.Errorf("first task on the new worker started %s after its process started, want under 5s", d)
	}
	t.Logf("new worker ran %d of %d tasks; first one %s after its process started", late, len(tasks), first.Sub(joinStart))
}

func TestMixedDurationsAllAccounted(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	for i := 1; i <= 3; i++ {
		c.StartWorker(fmt.Sprintf("w%d", i), echoEnv, "-population", "4")
	}
	api := c.API()
	api.WaitWorkers(t, 3, 15*time.Second)

	var reqs []clustertest.TaskRequest
	durations := []string{"0s", "10ms", "50ms", "150ms"}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			reqs = append(reqs, clustertest.TaskRequest{Type: "echo", Payload: strconv.Itoa(i)})
		} else {
			reqs = append(reqs, clustertest.TaskRequest{Type: "sleep", Payload: durations[i%len(durations)]})
		}
	}
	ids := api.SubmitBatch(t, reqs)
	tasks := api.WaitFinal(t, ids, 2*time.Minute)

	seen := map[string]bool{}
	for i, task := range tasks {
		if seen[task.ID] {
			t.Errorf("id %s returned twice", task.ID)
		}
		seen[task.ID] = true
		if task.Status != "succeeded" {
			t.Errorf("task %d is %s: %s", i, task.Status, task.Error)
		}
		if task.Attempts != 1 {
			t.Errorf("task %d took %d attempts, want 1 with no failures", i, task.Attempts)
		}
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct tasks, want 200", len(seen))
	}
}

func TestMalformedRequestsNameField(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	api := c.API()
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing type", map[string]any{"payload": "x"}, "type"},
		{"unknown field", map[string]any{"type": "echo", "payloda": "x"}, "payloda"},
		{"bad timeout", map[string]any{"type": "echo", "timeout": "soon"}, "timeout"},
		{"wrong type", map[string]any{"type": 5}, "type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out struct {
				Error string `json:"error"`
				Field string `json:"field"`
			}
			code, err := api.Do("POST", "/v1/tasks", tc.body, &out)
			if err != nil {
				t.Fatal(err)
			}
			if code != 400 {
				t.Errorf("status = %d, want 400", code)
			}
			if out.Field != tc.field {
				t.Errorf("field = %q, want %q (error %q)", out.Field, tc.field, out.Error)
			}
			if out.Error == "" {
				t.Error("error message is empty")
			}
		})
	}
}
