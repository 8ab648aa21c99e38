package config

import (
	"fmt"
	"net/url"
)

// finishWorkerHTTP leaves http_addr unset on a worker unless a source set
// it: its default is the master's API address, and a worker serves only
// /metrics and /healthz, on request.
func (l *loader) finishWorkerHTTP() {
	if l.cfg.Role == RoleWorker && !l.cfg.Dev && !l.explicit("http_addr") {
		l.cfg.HTTPAddr = ""
	}
}

// handlerURL checks the url of an http handler: http or https with a host.
func handlerURL(v any) (any, error) {
	raw := v.(string)
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not supported: use http:// or https://", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("missing host: write it as http://127.0.0.1:8080/path")
	}
	if u.User != nil {
		return nil, fmt.Errorf("credentials in the URL are not supported: the handler sends no authentication")
	}
	return raw, nil
}
