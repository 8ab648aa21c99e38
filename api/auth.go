package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenHash is the SHA-256 of the API token; comparing hashes takes the
// same time whatever the length of the token that a request presents.
type tokenHash [sha256.Size]byte

// openPath reports whether path is served without the token: the status
// page and its assets (the page asks for the token itself), /healthz for
// probes, and /metrics unless requireForMetrics.
func openPath(path string, requireForMetrics bool) bool {
	switch {
	case path == "/", path == "/healthz", strings.HasPrefix(path, "/ui/"):
		return true
	case path == "/metrics":
		return !requireForMetrics
	}
	return false
}

// checkToken reports whether r carries the bearer token whose hash is
// want.
func checkToken(r *http.Request, want tokenHash) bool {
	header := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// requireToken reports whether the request may pass, because the API has
// no token, the path is open or the request carries the token. Otherwise
// it writes a 401 response.
func (s *Server) requireToken(w http.ResponseWriter, r *http.Request) bool {
	if s.token == nil || openPath(r.URL.Path, s.opts.MetricsRequireToken) || checkToken(r, *s.token) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="lbd"`)
	s.fail(w, r, &httpError{
		status: http.StatusUnauthorized,
		msg: "missing or invalid API token: send the header \"Authorization: Bearer TOKEN\" " +
			"(lbd commands take -api-token or LBD_API_TOKEN)",
	})
	return false
}
