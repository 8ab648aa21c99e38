package client

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// statusHandler serves GET /v1/status.
var statusHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"node": "m1", "queued": 3}`))
})

// writeServerCA writes the certificate of a TLS test server to a file
// and returns its path.
func writeServerCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHTTPSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(statusHandler)
	defer srv.Close()
	c := New(srv.URL, WithCAFile(writeServerCA(t, srv)))
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatalf("Status over HTTPS with the CA: %v", err)
	}
	if st.Node != "m1" || st.Queued != 3 {
		t.Errorf("status = %+v, want node m1 with 3 queued", st)
	}
}

func TestHTTPSUnknownCA(t *testing.T) {
	srv := httptest.NewTLSServer(statusHandler)
	defer srv.Close()
	_, err := New(srv.URL).Status(context.Background())
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("err = %v, want ErrTLS", err)
	}
	if !strings.Contains(err.Error(), "-api-ca-file") {
		t.Errorf("err = %q does not say to pass -api-ca-file", err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Errorf("err = %v wraps ErrUnreachable, so a keyed submit would retry it", err)
	}
}

func TestPlainHTTPToHTTPSServer(t *testing.T) {
	srv := httptest.NewTLSServer(statusHandler)
	defer srv.Close()
	plain := "http://" + strings.TrimPrefix(srv.URL, "https://")
	_, err := New(plain).Status(context.Background())
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("err = %v, want ErrTLS", err)
	}
	if !strings.Contains(err.Error(), "serves HTTPS") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("err = %q, want it to say the master serves HTTPS at %s", err, srv.URL)
	}
}

func TestHTTPSToPlainServer(t *testing.T) {
	srv := httptest.NewServer(statusHandler)
	defer srv.Close()
	secure := "https://" + strings.TrimPrefix(srv.URL, "http://")
	_, err := New(secure).Status(context.Background())
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("err = %v, want ErrTLS", err)
	}
	if !strings.Contains(err.Error(), "serves plain HTTP") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("err = %q, want it to say the master serves plain HTTP at %s", err, srv.URL)
	}
}

func TestWithCAFileErrors(t *testing.T) {
	_, err := New("https://127.0.0.1:1", WithCAFile(filepath.Join(t.TempDir(), "missing.pem"))).Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing CA file: err = %v, want one that names the file", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("nothing"), 0o644)
	_, err = New("https://127.0.0.1:1", WithCAFile(empty)).Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "contains no PEM certificate") {
		t.Errorf("CA file without certificate: err = %v", err)
	}
}
