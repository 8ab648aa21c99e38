package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
)

func TestBatchOfFiveThousand(t *testing.T) {
	e := newEnv(t)
	const n = 5000
	body := "[" + strings.Join(taskJSON(n, "echo"), ",") + "]"

	start := time.Now()
	var out api.BatchResponse
	e.do("POST", "/v1/tasks/batch", body).decode(t, http.StatusCreated, &out)
	t.Logf("batch of %d tasks (%d bytes) answered in %v", n, len(body), time.Since(start))
	if len(out.IDs) != n {
		t.Fatalf("got %d ids, want %d", len(out.IDs), n)
	}
	seen := make(map[string]bool, n)
	for i, id := range out.IDs {
		if seen[id] {
			t.Fatalf("id %s at index %d was returned twice", id, i)
		}
		seen[id] = true
	}

	poll(t, "every task of the batch to succeed", func() bool {
		var st api.Status
		e.do("GET", "/v1/status", "").decode(t, http.StatusOK, &st)
		return st.Succeeded == n
	})
	for _, i := range []int{0, 1234, n - 1} {
		task := e.wait(out.IDs[i])
		if want := "payload " + strconv.Itoa(i); task.Output != want {
			t.Errorf("task %d output %q, want %q: ids are not in request order", i, task.Output, want)
		}
	}
}

func TestBatchObjectForm(t *testing.T) {
	e := newEnv(t)
	var out api.BatchResponse
	e.do("POST", "/v1/tasks/batch", `{"tasks": [{"type": "echo", "payload": "a"}, {"type": "echo", "payload": "b"}]}`).
		decode(t, http.StatusCreated, &out)
	if len(out.IDs) != 2 {
		t.Fatalf("got ids %v, want 2", out.IDs)
	}
	if got := e.wait(out.IDs[1]).Output; got != "b" {
		t.Errorf("second task output %q, want b", got)
	}
}

func TestBatchErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		body   string
		status int
		field  string
		parts  []string
	}{
		{"missing type", `[{"type": "echo"}, {"type": "echo"}, {"type": "echo"}, {"payload": "x"}]`, 400, "tasks[3].type", []string{"tasks[3].type: missing"}},
		{"unknown field", `[{"type": "echo"}, {"type": "echo", "x": 1}]`, 400, "tasks[1].x", []string{"unknown field"}},
		{"wrong type", `[{"type": "echo"}, {"type": "echo"}, {"type": "echo", "max_attempts": "2"}]`, 400, "tasks[2].max_attempts", []string{"expected an integer"}},
		{"bad timeout", `{"tasks": [{"type": "echo", "timeout": "1 minute"}]}`, 400, "tasks[0].timeout", []string{`"30s"`}},
		{"type charset in scheduler", `[{"type": "echo"}, {"type": "echo"}, {"type": "a/b"}]`, 400, "tasks[2].type", []string{"tasks[2].type:", "letters"}},
		{"only task invalid in scheduler", `[{"type": "a/b"}]`, 400, "tasks[0].type", []string{"tasks[0].type:"}},
		{"element not object", `[{"type": "echo"}, 1]`, 400, "tasks[1]", []string{"tasks[1] must be a JSON object", "number"}},
		{"empty array", `[]`, 400, "tasks", []string{"at least one task"}},
		{"empty object list", `{"tasks": []}`, 400, "tasks", []string{"at least one task"}},
		{"tasks missing", `{}`, 400, "tasks", []string{"tasks: missing"}},
		{"tasks not array", `{"tasks": 5}`, 400, "tasks", []string{"JSON array", "a number"}},
		{"tasks twice", `{"tasks": [{"type": "echo"}], "tasks": [{"type": "echo"}]}`, 400, "tasks", []string{"twice"}},
		{"other member", `{"jobs": []}`, 400, "jobs", []string{`unknown field "jobs"`}},
		{"string body", `"tasks"`, 400, "", []string{"JSON array of tasks", "a string"}},
		{"trailing data", `[{"type": "echo"}] []`, 400, "", []string{"after the JSON value"}},
		{"missing comma", `[{"type": "echo"} {"type": "echo"}]`, 400, "", []string{"not valid JSON"}},
		{"trailing comma", `[{"type": "echo"},]`, 400, "", []string{"not valid JSON"}},
		{"unclosed", `[{"type": "echo"}`, 400, "", []string{"not valid JSON"}},
		{"not json", `tasks`, 400, "", []string{"not valid JSON"}},
		{"empty body", ``, 400, "", []string{"empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/v1/tasks/batch", c.body).checkError(t, c.status, c.field, c.parts...)
		})
	}

	var st api.Status
	e.do("GET", "/v1/status", "").decode(t, http.StatusOK, &st)
	if st.Submitted != 0 {
		t.Errorf("%d tasks submitted by rejected batches, want 0", st.Submitted)
	}
}

func TestWorkersSortedByNode(t *testing.T) {
	e := newEnv(t, func(s *setup) { s.workers = 0 })
	addWorker(t, e.sched, "node-b", 2)
	addWorker(t, e.sched, "node-a", 3)
	id := e.submit(`{"type": "hold"}`)

	var out api.WorkersResponse
	e.do("GET", "/v1/workers", "").decode(t, http.StatusOK, &out)
	if len(out.Workers) != 2 {
		t.Fatalf("got %d workers, want 2: %+v", len(out.Workers), out.Workers)
	}
	a, b := out.Workers[0], out.Workers[1]
	if a.Node != "node-a" || b.Node != "node-b" {
		t.Errorf("workers in order %s, %s; want node-a, node-b", a.Node, b.Node)
	}
	if a.Slots != 3 || b.Slots != 2 {
		t.Errorf("slots %d and %d, want 3 and 2", a.Slots, b.Slots)
	}
	if a.Busy+b.Busy != 1 {
		t.Errorf("busy %d + %d, want 1 slot busy with task %s", a.Busy, b.Busy, id)
	}
	if strings.Join(a.Types, ",") != "echo,fail,hold" || a.Addr != "127.0.0.1:1" || a.Draining {
		t.Errorf("worker %+v, want types echo,fail,hold, addr 127.0.0.1:1, not draining", a)
	}
	if a.Since.IsZero() || time.Since(a.Since) > time.Minute {
		t.Errorf("since %v, want the time the worker connected", a.Since)
	}

	e.do("DELETE", "/v1/tasks/"+id, "").decode(t, http.StatusOK, &api.Task{})
	poll(t, "the canceled task's slot to be freed and counted", func() bool {
		e.do("GET", "/v1/workers", "").decode(t, http.StatusOK, &out)
		return out.Workers[0].Completed+out.Workers[1].Completed == 1
	})
}

func TestWorkersEmptyList(t *testing.T) {
	e := newEnv(t, func(s *setup) { s.workers = 0 })
	resp := e.do("GET", "/v1/workers", "")
	if resp.status != http.StatusOK || strings.TrimSpace(string(resp.body)) != `{"workers":[]}` {
		t.Errorf("GET /v1/workers with none: %d %s, want 200 {\"workers\":[]}", resp.status, resp.body)
	}
}

func TestStatusCounters(t *testing.T) {
	e := newEnv(t)
	e.wait(e.submit(`{"type": "echo", "payload": "abc"}`))
	e.wait(e.submit(`{"type": "fail", "max_attempts": 1}`))
	e.do("DELETE", "/v1/tasks/"+e.submit(`{"type": "nobody-runs-this"}`), "").decode(t, http.StatusOK, &api.Task{})
	e.submit(`{"type": "nobody-runs-this", "payload": "12345"}`)

	var st api.Status
	e.do("GET", "/v1/status", "").decode(t, http.StatusOK, &st)
	want := api.Status{
		Node: "master-1", Version: "1.2.3",
		Queued: 1, QueuedBytes: 5, Workers: 1, Slots: 8,
		Submitted: 4, Succeeded: 1, Failed: 1, Canceled: 1,
	}
	if st != want {
		t.Errorf("status\n got %+v\nwant %+v", st, want)
	}
}
