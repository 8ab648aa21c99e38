package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lbd-dev/lbd/api"
)

const testToken = "s3cret-token-for-tests"

// rawStatus sends a request with the given Authorization header ("" for
// none) and returns the status and body.
func rawStatus(t *testing.T, e *env, method, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestTokenRequired(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "lbd_up 1\n") })
	for _, requireForMetrics := range []bool{false, true} {
		e := newEnv(t, func(s *setup) {
			s.opts.Token = testToken
			s.opts.MetricsRequireToken = requireForMetrics
			s.opts.Metrics = metrics
		})
		metricsOpen := http.StatusOK
		if requireForMetrics {
			metricsOpen = http.StatusUnauthorized
		}
		tests := []struct {
			method, path, auth string
			want               int
		}{
			{"GET", "/v1/status", "", http.StatusUnauthorized},
			{"GET", "/v1/status", "Bearer wrong", http.StatusUnauthorized},
			{"GET", "/v1/status", "Basic " + testToken, http.StatusUnauthorized},
			{"GET", "/v1/status", "Bearer " + testToken, http.StatusOK},
			{"GET", "/v1/status", "bearer " + testToken, http.StatusOK},
			{"POST", "/v1/tasks", "", http.StatusUnauthorized},
			{"GET", "/v1/no-such-path", "", http.StatusUnauthorized},
			{"GET", "/healthz", "", http.StatusOK},
			{"GET", "/", "", http.StatusOK},
			{"GET", "/ui/app.js", "", http.StatusOK},
			{"GET", "/metrics", "", metricsOpen},
			{"GET", "/metrics", "Bearer " + testToken, http.StatusOK},
		}
		for _, tt := range tests {
			got, body := rawStatus(t, e, tt.method, tt.path, tt.auth)
			if got != tt.want {
				t.Errorf("metrics_require_token=%t: %s %s with %q = %d, want %d; body %s",
					requireForMetrics, tt.method, tt.path, tt.auth, got, tt.want, body)
			}
			if got == http.StatusUnauthorized && !strings.Contains(body, "missing or invalid API token") {
				t.Errorf("%s %s: 401 body %s does not say why", tt.method, tt.path, body)
			}
			if strings.Contains(body, testToken) {
				t.Errorf("%s %s: the response contains the token", tt.method, tt.path)
			}
		}
	}
}

func TestNoTokenLeavesAPIOpen(t *testing.T) {
	e := newEnv(t, func(s *setup) { s.opts = api.Options{Node: "m"} })
	if got, body := rawStatus(t, e, "GET", "/v1/status", ""); got != http.StatusOK {
		t.Errorf("GET /v1/status without a configured token = %d, want 200; body %s", got, body)
	}
}
