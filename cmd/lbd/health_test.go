package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthExitCodes(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			t.Errorf("health check requested %s, want /healthz", r.URL.Path)
		}
	}))
	defer ok.Close()
	draining := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status": "draining"}`, http.StatusServiceUnavailable)
	}))
	defer draining.Close()
	gossip, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gossip.Close()

	cases := []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"master healthy", []string{"-http-addr", ok.Listener.Addr().String()}, exitOK, ""},
		{"master draining", []string{"-http-addr", draining.URL}, exitFailure, "503"},
		{"master down", []string{"-http-addr", closedAddr(t)}, exitFailure, "unreachable"},
		{"gossip open", []string{"-gossip", gossip.Addr().String()}, exitOK, ""},
		{"gossip closed", []string{"-gossip", closedAddr(t)}, exitFailure, "does not accept"},
		{"bad timeout", []string{"-timeout", "0s"}, exitUsage, "invalid -timeout"},
		{"extra argument", []string{"now"}, exitUsage, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := runHealth(tc.args, &stdout, &stderr); got != tc.want {
				t.Errorf("exit code = %d, want %d (stderr %q)", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.stderr)
			}
		})
	}
}

func TestHealthWorkerRoleChecksBind(t *testing.T) {
	gossip, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gossip.Close()
	_, port, _ := net.SplitHostPort(gossip.Addr().String())
	t.Setenv("LBD_ROLE", "worker")
	t.Setenv("LBD_BIND", "0.0.0.0:"+port)
	t.Setenv("LBD_HTTP_ADDR", closedAddr(t))

	var stdout, stderr bytes.Buffer
	if got := runHealth(nil, &stdout, &stderr); got != exitOK {
		t.Errorf("exit code with LBD_ROLE=worker and an open LBD_BIND port = %d, want 0 (stderr %q)", got, stderr.String())
	}
}
