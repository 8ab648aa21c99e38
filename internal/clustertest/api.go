package clustertest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// API is a minimal JSON client of the master's HTTP API, independent of the
// client package so that the tests check the wire format itself.
type API struct {
	Addr string

	// HTTPS makes the client speak HTTPS, trusting the CA certificates of
	// RootCAs (nil: the system's).
	HTTPS   bool
	RootCAs *x509.CertPool
}

// client returns the HTTP client of a's requests.
func (a *API) client() *http.Client {
	if !a.HTTPS {
		return httpClient
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: a.RootCAs}
	return &http.Client{Timeout: httpClient.Timeout, Transport: transport}
}

// URL returns the URL of path on the master.
func (a *API) URL(path string) string {
	if a.HTTPS {
		return "https://" + a.Addr + path
	}
	return "http://" + a.Addr + path
}

// Task is the subset of the task JSON the tests read.
type Task struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	Worker   string `json:"worker"`
	Output   string `json:"output"`
	Error    string `json:"error"`
	Started  string `json:"started"`
	Finished string `json:"finished"`
}

// Worker is the subset of the worker JSON the tests read.
type Worker struct {
	Node      string   `json:"node"`
	Slots     int      `json:"slots"`
	Busy      int      `json:"busy"`
	Types     []string `json:"types"`
	Completed uint64   `json:"completed"`
}

// TaskRequest is one task to submit.
type TaskRequest struct {
	Type        string `json:"type"`
	Payload     string `json:"payload,omitempty"`
	Timeout     string `json:"timeout,omitempty"`
	MaxAttempts int    `json:"max_attempts,omitempty"`
	Key         string `json:"key,omitempty"`
}

var httpClient = &http.Client{Timeout: 2 * time.Minute}

// Do sends a request with a JSON body (nil for none) and decodes a JSON
// response into out (nil to skip). It returns the status code.
func (a *API) Do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.URL(path), r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s response %q: %w", method, path, data, err)
		}
	}
	return resp.StatusCode, nil
}

// WaitHealthy polls /healthz until it returns 200.
func (a *API) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, err := a.Do("GET", "/healthz", nil, nil)
		if err == nil && code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("master at %s not healthy within %s: code %d, err %v", a.Addr, timeout, code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SubmitBatch submits tasks and returns their ids.
func (a *API) SubmitBatch(t testing.TB, tasks []TaskRequest) []string {
	t.Helper()
	var out struct {
		IDs   []string `json:"ids"`
		Error string   `json:"error"`
	}
	code, err := a.Do("POST", "/v1/tasks/batch", tasks, &out)
	if err != nil || code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("submit %d tasks: code %d, err %v, error %q", len(tasks), code, err, out.Error)
	}
	if len(out.IDs) != len(tasks) {
		t.Fatalf("submit %d tasks: got %d ids", len(tasks), len(out.IDs))
	}
	return out.IDs
}

// Get returns a task.
func (a *API) Get(t testing.TB, id string) Task {
	t.Helper()
	var task Task
	code, err := a.Do("GET", "/v1/tasks/"+id, nil, &task)
	if err != nil || code != http.StatusOK {
		t.Fatalf("get task %s: code %d, err %v", id, code, err)
	}
	return task
}

// WaitFinal waits until every task is final and returns them in order.
func (a *API) WaitFinal(t testing.TB, ids []string, timeout time.Duration) []Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	out := make([]Task, len(ids))
	for i, id := range ids {
		for {
			left := time.Until(deadline)
			if left <= 0 {
				t.Fatalf("task %s (%d of %d) not final within %s: %+v", id, i, len(ids), timeout, out[i])
			}
			wait := min(left, 10*time.Second).Round(time.Millisecond)
			var task Task
			code, err := a.Do("GET", fmt.Sprintf("/v1/tasks/%s?wait=%s", id, wait), nil, &task)
			if err == nil && code == http.StatusOK {
				out[i] = task
				if final(task.Status) {
					break
				}
				continue
			}
			time.Sleep(100 * time.Millisecond) // master restarting
		}
	}
	return out
}

func final(status string) bool {
	return status == "succeeded" || status == "failed" || status == "canceled"
}

// Workers returns the connected workers.
func (a *API) Workers(t testing.TB) []Worker {
	t.Helper()
	var out struct {
		Workers []Worker `json:"workers"`
	}
	code, err := a.Do("GET", "/v1/workers", nil, &out)
	if err != nil || code != http.StatusOK {
		t.Fatalf("list workers: code %d, err %v", code, err)
	}
	return out.Workers
}

// WaitWorkers polls until n workers are connected.
func (a *API) WaitWorkers(t testing.TB, n int, timeout time.Duration) []Worker {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ws := a.Workers(t)
		if len(ws) >= n {
			return ws
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers connected after %s, want %d: %+v", len(ws), timeout, n, ws)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
