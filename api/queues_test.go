package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/scheduler"
)

func TestSubmitQueuePriorityDelay(t *testing.T) {
	e := newEnv(t, func(su *setup) { su.workers = 0 })
	before := time.Now()
	id := e.submit(`{"type": "echo", "queue": "reports", "priority": 9, "delay": "1h"}`)

	var task api.Task
	e.do("GET", "/v1/tasks/"+id, "").decode(t, http.StatusOK, &task)
	if task.Queue != "reports" || task.Priority != 9 || task.Status != scheduler.StatusScheduled {
		t.Errorf("queue=%q priority=%d status=%s, want reports, 9, scheduled", task.Queue, task.Priority, task.Status)
	}
	if want := before.Add(time.Hour); task.RunAt.Before(want) || task.RunAt.After(want.Add(5*time.Second)) {
		t.Errorf("run_at = %v, want about %v", task.RunAt, want)
	}

	runAt := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	id2 := e.submit(`{"type": "echo", "run_at": "` + runAt.Format(time.RFC3339) + `"}`)
	e.do("GET", "/v1/tasks/"+id2, "").decode(t, http.StatusOK, &task)
	if !task.RunAt.Equal(runAt) || task.Queue != "default" {
		t.Errorf("run_at = %v queue = %q, want %v and default", task.RunAt, task.Queue, runAt)
	}

	var st api.Status
	e.do("GET", "/v1/status", "").decode(t, http.StatusOK, &st)
	if st.Scheduled != 2 || st.Queued != 0 {
		t.Errorf("status scheduled=%d queued=%d, want 2 and 0", st.Scheduled, st.Queued)
	}
}

func TestSubmitPlacementErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, body, field string
		parts             []string
	}{
		{"both times", `{"type": "echo", "run_at": "2030-01-01T00:00:00Z", "delay": "1s"}`, "delay", []string{"not both"}},
		{"bad run_at", `{"type": "echo", "run_at": "tomorrow"}`, "run_at", []string{`"tomorrow"`, "RFC 3339"}},
		{"bad delay", `{"type": "echo", "delay": "soon"}`, "delay", []string{`"soon"`, `"90s"`}},
		{"negative delay", `{"type": "echo", "delay": "-5s"}`, "delay", []string{"negative"}},
		{"bad queue", `{"type": "echo", "queue": "a/b"}`, "queue", []string{"a/b"}},
		{"priority range", `{"type": "echo", "priority": 5000}`, "priority", []string{"5000"}},
		{"far run_at", `{"type": "echo", "run_at": "2999-01-01T00:00:00Z"}`, "run_at", []string{"ahead"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/v1/tasks", c.body).checkError(t, http.StatusBadRequest, c.field, c.parts...)
		})
	}
	e.do("POST", "/v1/tasks/batch", `{"tasks": [{"type": "echo"}, {"type": "echo", "delay": "x"}]}`).
		checkError(t, http.StatusBadRequest, "tasks[1].delay")
}

func TestQueuesPauseResumePurge(t *testing.T) {
	e := newEnv(t, func(su *setup) {
		su.workers = 0
		su.cfg.Queues = map[string]scheduler.QueueLimits{"capped": {MaxQueuedTasks: 1}}
	})
	var act api.QueueActionResponse
	e.do("POST", "/v1/queues/default/pause", "").decode(t, http.StatusOK, &act)
	if !act.Paused || act.Queue != "default" {
		t.Errorf("pause response = %+v, want default paused", act)
	}
	e.submit(`{"type": "echo", "payload": "abc"}`)
	e.submit(`{"type": "echo", "delay": "1h"}`)

	var qs api.QueuesResponse
	e.do("GET", "/v1/queues", "").decode(t, http.StatusOK, &qs)
	if len(qs.Queues) != 2 {
		t.Fatalf("queues = %+v, want capped and default", qs.Queues)
	}
	if q := qs.Queues[0]; q.Name != "capped" || q.MaxQueuedTasks != 1 {
		t.Errorf("first queue = %+v, want capped with max_queued_tasks 1", q)
	}
	if q := qs.Queues[1]; q.Name != "default" || !q.Paused || q.Queued != 1 || q.Delayed != 1 || q.Bytes != 3 {
		t.Errorf("default queue = %+v, want paused, 1 queued, 1 delayed, 3 bytes", q)
	}

	e.do("POST", "/v1/queues/default/purge", "").checkError(t, http.StatusBadRequest, "confirm", "confirm=true")
	e.do("POST", "/v1/queues/default/purge?confirm=true", "").decode(t, http.StatusOK, &act)
	if act.Purged != 2 || !act.Paused {
		t.Errorf("purge response = %+v, want 2 purged and still paused", act)
	}
	e.do("POST", "/v1/queues/default/resume", "").decode(t, http.StatusOK, &act)
	if act.Paused {
		t.Errorf("resume response = %+v, want not paused", act)
	}

	e.submit(`{"type": "echo", "queue": "capped"}`)
	e.do("POST", "/v1/tasks", `{"type": "echo", "queue": "capped"}`).
		checkError(t, http.StatusTooManyRequests, "", `queue "capped" full`, "max_queued_tasks")

	e.do("POST", "/v1/queues/bad%20name/pause", "").checkError(t, http.StatusBadRequest, "queue", "bad name")
	e.do("GET", "/v1/queues/default/pause", "").checkError(t, http.StatusMethodNotAllowed, "")
}

func TestPausedQueueRunsAfterResume(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/v1/queues/default/pause", "").decode(t, http.StatusOK, &api.QueueActionResponse{})
	id := e.submit(`{"type": "echo", "payload": "later"}`)

	var task api.Task
	e.do("GET", "/v1/tasks/"+id+"?wait=200ms", "").decode(t, http.StatusOK, &task)
	if task.Status != scheduler.StatusQueued {
		t.Fatalf("status in paused queue = %s, want queued", task.Status)
	}
	e.do("POST", "/v1/queues/default/resume", "").decode(t, http.StatusOK, &api.QueueActionResponse{})
	if task = e.wait(id); task.Status != scheduler.StatusSucceeded || task.Output != "later" {
		t.Errorf("after resume status=%s output=%q, want succeeded and later", task.Status, task.Output)
	}
}
