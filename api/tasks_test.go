package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

func TestSubmitAndWaitForOutput(t *testing.T) {
	e := newEnv(t)
	before := time.Now()

	resp := e.do("POST", "/v1/tasks", `{"type": "echo", "payload": "hello", "timeout": "45s", "max_attempts": 2}`)
	var sub api.SubmitResponse
	resp.decode(t, http.StatusCreated, &sub)
	if loc := resp.header.Get("Location"); loc != "/v1/tasks/"+sub.ID {
		t.Errorf("Location %q, want /v1/tasks/%s", loc, sub.ID)
	}

	task := e.wait(sub.ID)
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", task.ID, sub.ID},
		{"type", task.Type, "echo"},
		{"status", task.Status, scheduler.StatusSucceeded},
		{"output", task.Output, "hello"},
		{"output_base64", task.OutputBase64, ""},
		{"attempts", task.Attempts, 1},
		{"max_attempts", task.MaxAttempts, 2},
		{"failures", task.Failures, 0},
		{"worker", task.Worker, "w1"},
		{"payload_bytes", task.PayloadBytes, 5},
		{"timeout", task.Timeout, "45s"},
		{"error", task.Error, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for name, ts := range map[string]time.Time{"created": task.Created, "started": task.Started, "finished": task.Finished} {
		if ts.Before(before.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("%s = %v, want a time during the test", name, ts)
		}
	}
}

func TestTaskJSONLayout(t *testing.T) {
	e := newEnv(t)
	id := e.submit(`{"type": "echo", "payload": "x", "key": "layout-1"}`)
	e.wait(id)

	resp := e.do("GET", "/v1/tasks/"+id, "")
	var raw map[string]any
	resp.decode(t, http.StatusOK, &raw)
	for _, absent := range []string{"run_at", "output_base64", "error"} {
		if v, ok := raw[absent]; ok {
			t.Errorf("field %s = %v, want it left out", absent, v)
		}
	}
	if raw["key"] != "layout-1" {
		t.Errorf("key = %v, want layout-1", raw["key"])
	}
	finished, _ := raw["finished"].(string)
	parsed, err := time.Parse(time.RFC3339Nano, finished)
	if err != nil {
		t.Fatalf("finished %q is not RFC 3339: %v", finished, err)
	}
	if parsed.Location() != time.UTC {
		t.Errorf("finished %q is not in UTC", finished)
	}
}

func TestBase64PayloadAndOutput(t *testing.T) {
	e := newEnv(t)
	binary := []byte{0xff, 0x00, 0xfe, 'a'}

	id := e.submit(fmt.Sprintf(`{"type": "echo", "payload_base64": %q}`, base64.StdEncoding.EncodeToString(binary)))
	task := e.wait(id)
	if task.Output != "" {
		t.Errorf("output = %q, want empty for binary output", task.Output)
	}
	if want := base64.StdEncoding.EncodeToString(binary); task.OutputBase64 != want {
		t.Errorf("output_base64 = %q, want %q", task.OutputBase64, want)
	}
	got, err := task.OutputBytes()
	if err != nil || string(got) != string(binary) {
		t.Errorf("OutputBytes() = %v, %v; want %v", got, err, binary)
	}

	text := e.wait(e.submit(`{"type": "echo", "payload_base64": "aGk="}`))
	if text.Output != "hi" || text.OutputBase64 != "" {
		t.Errorf("output %q, output_base64 %q; want output \"hi\" for a UTF-8 result", text.Output, text.OutputBase64)
	}
}

func TestWaitReturnsWhenWaitRunsOut(t *testing.T) {
	e := newEnv(t, func(s *setup) { s.opts.MaxWait = 300 * time.Millisecond })
	id := e.submit(`{"type": "nobody-runs-this"}`)

	start := time.Now()
	var task api.Task
	e.do("GET", "/v1/tasks/"+id+"?wait=100ms", "").decode(t, http.StatusOK, &task)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("wait=100ms returned after %v, want at least 100ms", took)
	}
	if task.Status != scheduler.StatusQueued {
		t.Errorf("status %s, want queued", task.Status)
	}

	start = time.Now()
	e.do("GET", "/v1/tasks/"+id+"?wait=1h", "").decode(t, http.StatusOK, &task)
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("wait=1h with MaxWait 300ms returned after %v, want about 300ms", took)
	}
}

func TestWaitParameterErrors(t *testing.T) {
	e := newEnv(t)
	id := e.submit(`{"type": "echo"}`)
	e.do("GET", "/v1/tasks/"+id+"?wait=soon", "").checkError(t, http.StatusBadRequest, "wait", `"soon"`, "30s")
	e.do("GET", "/v1/tasks/"+id+"?wait=-1s", "").checkError(t, http.StatusBadRequest, "wait", "negative")
	e.do("GET", "/v1/tasks/nope?wait=1s", "").checkError(t, http.StatusNotFound, "", `"nope"`, "not found")
}

func TestGetUnknownTask(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/v1/tasks/0000000000000", "").checkError(t, http.StatusNotFound, "", `task "0000000000000" not found`)
}

func TestCancelQueuedAndRunning(t *testing.T) {
	e := newEnv(t)

	queued := e.submit(`{"type": "nobody-runs-this"}`)
	var task api.Task
	e.do("DELETE", "/v1/tasks/"+queued, "").decode(t, http.StatusOK, &task)
	if task.Status != scheduler.StatusCanceled {
		t.Errorf("canceled queued task has status %s, want canceled", task.Status)
	}
	e.do("DELETE", "/v1/tasks/"+queued, "").checkError(t, http.StatusConflict, "", queued, "already canceled")

	running := e.submit(`{"type": "hold"}`)
	poll(t, "the hold task to run", func() bool {
		var got api.Task
		e.do("GET", "/v1/tasks/"+running, "").decode(t, http.StatusOK, &got)
		return got.Status == scheduler.StatusRunning
	})
	e.do("DELETE", "/v1/tasks/"+running, "").decode(t, http.StatusOK, &task)
	if task.Status != scheduler.StatusCanceled {
		t.Errorf("canceled running task has status %s, want canceled", task.Status)
	}
	poll(t, "the worker to free the canceled task's slot", func() bool {
		var ws api.WorkersResponse
		e.do("GET", "/v1/workers", "").decode(t, http.StatusOK, &ws)
		return len(ws.Workers) == 1 && ws.Workers[0].Busy == 0
	})

	e.do("DELETE", "/v1/tasks/unknown", "").checkError(t, http.StatusNotFound, "", `"unknown"`)
}

func TestRetryFailedTask(t *testing.T) {
	e := newEnv(t)
	id := e.submit(`{"type": "fail", "payload": "p1", "max_attempts": 1}`)
	failed := e.wait(id)
	if failed.Status != scheduler.StatusFailed || failed.Error != "failed on purpose: p1" {
		t.Fatalf("task ended %s with error %q, want failed with \"failed on purpose: p1\"", failed.Status, failed.Error)
	}
	if failed.Failures != 1 {
		t.Errorf("failures %d, want 1", failed.Failures)
	}

	var retried api.Task
	e.do("POST", "/v1/tasks/"+id+"/retry", "").decode(t, http.StatusOK, &retried)
	if retried.Status != scheduler.StatusQueued && retried.Status != scheduler.StatusRunning {
		t.Errorf("retried task is %s, want queued or running", retried.Status)
	}
	if retried.Failures != 0 {
		t.Errorf("retried task has %d failures, want 0", retried.Failures)
	}
	again := e.wait(id)
	if again.Attempts != 2 {
		t.Errorf("after retry the task had %d attempts, want 2", again.Attempts)
	}

	ok := e.submit(`{"type": "echo"}`)
	e.wait(ok)
	e.do("POST", "/v1/tasks/"+ok+"/retry", "").checkError(t, http.StatusConflict, "", ok, "is succeeded", "only a failed task")
	e.do("POST", "/v1/tasks/unknown/retry", "").checkError(t, http.StatusNotFound, "", `"unknown"`)
}

func TestSubmitErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		body  string
		field string
		parts []string
	}{
		{"payload twice", `{"type": "echo", "payload": "a", "payload_base64": "YQ=="}`, "payload_base64", []string{"not both"}},
		{"unknown field", `{"type": "echo", "colour": 1}`, "colour", []string{"unknown field", "payload_base64"}},
		{"type not string", `{"type": 5}`, "type", []string{"expected a string, got number"}},
		{"attempts not integer", `{"type": "echo", "max_attempts": "3"}`, "max_attempts", []string{"expected an integer, got string"}},
		{"attempts fraction", `{"type": "echo", "max_attempts": 1.5}`, "max_attempts", []string{"expected an integer", "1.5"}},
		{"timeout number", `{"type": "echo", "timeout": 30}`, "timeout", []string{"expected a string", `"30s"`}},
		{"timeout syntax", `{"type": "echo", "timeout": "soon"}`, "timeout", []string{`"soon"`, `"30s"`}},
		{"timeout negative", `{"type": "echo", "timeout": "-1s"}`, "timeout", []string{"not positive"}},
		{"timeout zero", `{"type": "echo", "timeout": "0s"}`, "timeout", []string{"not positive"}},
		{"type missing", `{"payload": "x"}`, "type", []string{"type: missing"}},
		{"type charset", `{"type": "no spaces"}`, "type", []string{"letters, digits"}},
		{"attempts range", `{"type": "echo", "max_attempts": 5000}`, "max_attempts", []string{"5000", "1..1000"}},
		{"attempts negative", `{"type": "echo", "max_attempts": -1}`, "max_attempts", []string{"-1"}},
		{"key too long", fmt.Sprintf(`{"type": "echo", "key": %q}`, strings.Repeat("k", 300)), "key", []string{"300 bytes"}},
		{"bad base64", `{"type": "echo", "payload_base64": "!!!"}`, "payload_base64", []string{"invalid base64"}},
		{"trailing value", `{"type": "echo"} {"type": "echo"}`, "", []string{"after the JSON value"}},
		{"trailing garbage", `{"type": "echo"} x`, "", []string{"after the JSON value"}},
		{"not json", `hello`, "", []string{"not valid JSON", "invalid character"}},
		{"truncated", `{"type": "ec`, "", []string{"not valid JSON", "ends in the middle"}},
		{"empty body", ``, "", []string{"empty"}},
		{"array body", `[{"type": "echo"}]`, "", []string{"must be a JSON object", "array"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/v1/tasks", c.body).checkError(t, http.StatusBadRequest, c.field, c.parts...)
		})
	}

	var st api.Status
	e.do("GET", "/v1/status", "").decode(t, http.StatusOK, &st)
	if st.Submitted != 0 {
		t.Errorf("%d tasks submitted by rejected requests, want 0", st.Submitted)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	first := e.submit(`{"type": "nobody-runs-this", "key": "order-17"}`)
	second := e.submit(`{"type": "nobody-runs-this", "key": "order-17", "payload": "different"}`)
	if first != second {
		t.Errorf("second submit with key order-17 returned id %s, want the first id %s", second, first)
	}

	var batch api.BatchResponse
	e.do("POST", "/v1/tasks/batch", `[{"type": "echo", "key": "b"}, {"type": "echo", "key": "order-17"}, {"type": "echo", "key": "b"}]`).
		decode(t, http.StatusCreated, &batch)
	if len(batch.IDs) != 3 || batch.IDs[0] != batch.IDs[2] || batch.IDs[1] != first {
		t.Errorf("batch ids %v, want 3 ids: the first and third equal (key b), the second %s (key order-17)", batch.IDs, first)
	}

	var st api.Status
	e.do("GET", "/v1/status", "").decode(t, http.StatusOK, &st)
	if st.Submitted != 2 {
		t.Errorf("submitted = %d, want 2 distinct tasks", st.Submitted)
	}
}

func TestQueueFull(t *testing.T) {
	e := newEnv(t, func(s *setup) { s.cfg.MaxQueuedTasks = 3 })
	for range 3 {
		e.submit(`{"type": "nobody-runs-this"}`)
	}

	resp := e.do("POST", "/v1/tasks", `{"type": "nobody-runs-this"}`)
	resp.checkError(t, http.StatusTooManyRequests, "", "max_queued_tasks = 3")
	if ra := resp.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}

	resp = e.do("POST", "/v1/tasks/batch", `[{"type": "echo"}, {"type": "echo"}]`)
	resp.checkError(t, http.StatusTooManyRequests, "", "max_queued_tasks = 3", "would be 5")
}

func TestPayloadTooLarge(t *testing.T) {
	e := newEnv(t, func(s *setup) {
		s.cfg.MaxPayloadBytes = 16
		s.opts.MaxPayloadBytes = 16
	})
	big := strings.Repeat("x", 17)
	e.do("POST", "/v1/tasks", `{"type": "echo", "payload": "`+big+`"}`).
		checkError(t, http.StatusRequestEntityTooLarge, "payload", "17 bytes", "max_payload_bytes = 16")

	b64 := base64.StdEncoding.EncodeToString([]byte(big))
	e.do("POST", "/v1/tasks/batch", `[{"type": "echo"}, {"type": "echo", "payload_base64": "`+b64+`"}]`).
		checkError(t, http.StatusRequestEntityTooLarge, "tasks[1].payload_base64", "17 bytes", "max_payload_bytes = 16")

	e.submit(`{"type": "echo", "payload": "` + strings.Repeat("x", 16) + `"}`)
}

func TestPayloadLimitOfSchedulerAlone(t *testing.T) {
	e := newEnv(t, func(s *setup) {
		s.cfg.MaxPayloadBytes = 16
		s.opts.MaxPayloadBytes = 0
	})
	e.do("POST", "/v1/tasks", `{"type": "echo", "payload": "`+strings.Repeat("x", 20)+`"}`).
		checkError(t, http.StatusRequestEntityTooLarge, "", "20 bytes", "max_payload_bytes = 16")
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(s *setup) { s.opts.MaxBodyBytes = 1024 })
	body := `{"type": "echo", "payload": "` + strings.Repeat("x", 2000) + `"}`
	e.do("POST", "/v1/tasks", body).checkError(t, http.StatusRequestEntityTooLarge, "", "of 2031 bytes", "limit of 1024 bytes")

	// Without a Content-Length the limit is found while reading.
	req, err := http.NewRequest("POST", e.srv.URL+"/v1/tasks/batch", struct{ *strings.Reader }{strings.NewReader("[" + body + "]")})
	if err != nil {
		t.Fatal(err)
	}
	resp := e.send(req)
	resp.checkError(t, http.StatusRequestEntityTooLarge, "", "limit of 1024 bytes")
}

func TestDrainingRejectsSubmits(t *testing.T) {
	e := newEnv(t)
	failed := e.submit(`{"type": "fail", "max_attempts": 1}`)
	e.wait(failed)

	var health api.Health
	e.do("GET", "/healthz", "").decode(t, http.StatusOK, &health)
	if health.Status != "ok" {
		t.Errorf("health %q before draining, want ok", health.Status)
	}

	e.api.SetDraining()
	e.do("GET", "/healthz", "").decode(t, http.StatusServiceUnavailable, &health)
	if health.Status != "draining" {
		t.Errorf("health %q while draining, want draining", health.Status)
	}
	e.do("POST", "/v1/tasks", `{"type": "echo"}`).checkError(t, http.StatusServiceUnavailable, "", "master is shutting down")
	e.do("POST", "/v1/tasks/batch", `[{"type": "echo"}]`).checkError(t, http.StatusServiceUnavailable, "", "master is shutting down")
	e.do("POST", "/v1/tasks/"+failed+"/retry", "").checkError(t, http.StatusServiceUnavailable, "", "master is shutting down")

	var task api.Task
	e.do("GET", "/v1/tasks/"+failed, "").decode(t, http.StatusOK, &task)
	if task.Status != scheduler.StatusFailed {
		t.Errorf("task is %s while draining, want it readable as failed", task.Status)
	}
	if !strings.Contains(e.logs.String(), "level=ERROR msg=\"request failed\" method=POST path=/v1/tasks status=503") {
		t.Errorf("log has no error line for the 503; log:\n%s", e.logs.String())
	}
}

func TestStoppedSchedulerIs503(t *testing.T) {
	e := newEnv(t)
	e.sched.Stop()
	e.do("POST", "/v1/tasks", `{"type": "echo"}`).checkError(t, http.StatusServiceUnavailable, "", "scheduler stopped")
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, path, allow string
	}{
		{"PUT", "/v1/tasks", "GET, HEAD, POST"},
		{"GET", "/v1/tasks/batch", "POST"},
		{"PATCH", "/v1/tasks/abc", "DELETE, GET, HEAD"},
		{"GET", "/v1/tasks/abc/retry", "POST"},
		{"POST", "/v1/workers", "GET, HEAD"},
		{"DELETE", "/v1/status", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	}
	for _, c := range cases {
		resp := e.do(c.method, c.path, "")
		resp.checkError(t, http.StatusMethodNotAllowed, "", c.method, c.path, c.allow)
		if got := resp.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}

func TestUnknownPath(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/index.html", "/v2/tasks", "/v1/tasks/", "/v1/tasks/a/b"} {
		e.do("GET", path, "").checkError(t, http.StatusNotFound, "", "no API endpoint", "/v1/tasks/{id}")
	}
	if !strings.Contains(e.logs.String(), "level=DEBUG msg=\"request rejected\" method=GET path=/v2/tasks status=404") {
		t.Errorf("log has no debug line for the 404; log:\n%s", e.logs.String())
	}
}

func TestHeadHealth(t *testing.T) {
	e := newEnv(t)
	resp := e.do("HEAD", "/healthz", "")
	if resp.status != http.StatusOK || len(resp.body) != 0 {
		t.Errorf("HEAD /healthz: status %d body %q, want 200 and no body", resp.status, resp.body)
	}
}

// taskJSON renders n tasks for a batch body.
func taskJSON(n int, typ string) []string {
	out := make([]string, n)
	for i := range out {
		payload, _ := json.Marshal(fmt.Sprintf("payload %d", i))
		out[i] = fmt.Sprintf(`{"type": %q, "payload": %s}`, typ, payload)
	}
	return out
}

func TestStoreFailureIs503(t *testing.T) {
	bolt, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := newEnv(t, func(s *setup) { s.cfg.Store = bolt })
	e.wait(e.submit(`{"type": "echo"}`))

	if err := bolt.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	e.do("POST", "/v1/tasks", `{"type": "echo"}`).checkError(t, http.StatusServiceUnavailable, "", "store failed")
	if !strings.Contains(e.logs.String(), `msg="request failed" method=POST path=/v1/tasks status=503 err="store failed`) {
		t.Errorf("log has no error line for the store failure; log:\n%s", e.logs.String())
	}
}
