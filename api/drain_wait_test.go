package api_test

import (
	"net/http"
	"testing"
	"time"
)

func TestSetDrainingEndsWaits(t *testing.T) {
	e := newEnv(t, func(su *setup) { su.workers = 0 })
	id := e.submit(`{"type":"echo","payload":"x"}`)

	done := make(chan response, 1)
	start := time.Now()
	go func() { done <- e.do(http.MethodGet, "/v1/tasks/"+id+"?wait=30s", "") }()
	time.Sleep(100 * time.Millisecond)
	e.api.SetDraining()

	select {
	case r := <-done:
		if r.status != http.StatusOK {
			t.Errorf("wait answered %d, want 200 with the task as it is", r.status)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("wait answered after %s, want soon after SetDraining", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a ?wait=30s request was still open 10s after SetDraining")
	}
}
