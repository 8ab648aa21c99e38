package worker

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHTTPHandlerOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte(r.Method + " " + r.Header.Get("Lbd-Task-Id") + " " + strings.ToUpper(string(body))))
	}))
	defer srv.Close()
	h, err := NewHTTP(srv.URL+"/upper", 0, 1<<20)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	ctx := withTaskInfo(context.Background(), TaskInfo{ID: "t1", Attempt: 2, Type: "upper"})
	out, err := h.Handle(ctx, []byte("abc"))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got, want := string(out), "POST t1 ABC"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestHTTPHandlerErrorStatus(t *testing.T) {
	long := strings.Repeat("x", 600)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad input "+long, http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	h, err := NewHTTP(srv.URL, 0, 1<<20)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	_, err = h.Handle(context.Background(), []byte("p"))
	if err == nil {
		t.Fatal("Handle succeeded on a 422 response, want an error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "422 Unprocessable Entity") || !strings.Contains(msg, "bad input xxx") {
		t.Errorf("error %q, want the status and the start of the body", msg)
	}
	if n := strings.Count(msg, "x"); n != 512-len("bad input ") {
		t.Errorf("error carries %d bytes of x, want the body cut at 512 bytes (%d)", n, 512-len("bad input "))
	}
}

func TestHTTPHandlerTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	h, err := NewHTTP(srv.URL, 0, 1<<20)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = h.Handle(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Handle returned after %s, want soon after the 100ms deadline", d)
	}
}

func TestHTTPHandlerOutputCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 100))
	}))
	defer srv.Close()
	h, err := NewHTTP(srv.URL, 0, 99)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	if _, err := h.Handle(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "exceeds max_output_bytes") {
		t.Errorf("error %v, want the output cap", err)
	}
}

func TestNewHTTPInvalidURL(t *testing.T) {
	for _, u := range []string{"", "ftp://host/x", "http://", "::"} {
		if _, err := NewHTTP(u, 0, 1); err == nil {
			t.Errorf("NewHTTP(%q) succeeded, want an error", u)
		}
	}
}
