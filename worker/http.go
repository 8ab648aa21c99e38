package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// httpErrorBodyBytes is how much of a non-2xx response body an attempt's
// error carries.
const httpErrorBodyBytes = 512

// defaultHTTPTimeout caps one request of an http handler whose NewHTTP
// timeout is zero. The task's own timeout, carried by ctx, usually ends it
// sooner.
const defaultHTTPTimeout = 10 * time.Minute

type httpHandler struct {
	url       string
	client    *http.Client
	timeout   time.Duration
	maxOutput int64
}

// NewHTTP returns a handler that POSTs each payload to rawURL with the
// content type application/octet-stream. A 2xx response's body is the
// output; any other status fails the attempt with the status and the first
// 512 bytes of the body. The request carries the headers Lbd-Task-Id,
// Lbd-Task-Type and Lbd-Attempt.
//
// timeout caps one request on top of the task's timeout; 0 means 10 min.
// A body over maxOutput bytes fails the attempt. Redirects are not
// followed, so that a payload never goes to another URL than the
// configured one.
func NewHTTP(rawURL string, timeout time.Duration, maxOutput int64) (Handler, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("http handler: invalid url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("http handler: invalid url %q: use http://host:port/path or https://host:port/path", rawURL)
	}
	if maxOutput < 1 {
		return nil, fmt.Errorf("http handler for %q: invalid max output %d bytes: must be at least 1", rawURL, maxOutput)
	}
	if timeout <= 0 {
		timeout = defaultHTTPTimeout
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &httpHandler{url: rawURL, client: client, timeout: timeout, maxOutput: maxOutput}, nil
}

func (h *httpHandler) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("build request to %s: %w", h.url, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if info, ok := TaskFromContext(ctx); ok {
		req.Header.Set("Lbd-Task-Id", info.ID)
		req.Header.Set("Lbd-Task-Type", info.Type)
		req.Header.Set("Lbd-Attempt", strconv.FormatUint(uint64(info.Attempt), 10))
	}

	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("POST %s timed out: %w", h.url, err)
		}
		return nil, fmt.Errorf("POST %s failed: %w", h.url, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, httpErrorBodyBytes))
		return nil, fmt.Errorf("POST %s: %s: %s", h.url, resp.Status, printable(head))
	}
	out, err := io.ReadAll(io.LimitReader(resp.Body, h.maxOutput+1))
	if err != nil {
		return nil, fmt.Errorf("read response of POST %s: %w", h.url, err)
	}
	if int64(len(out)) > h.maxOutput {
		return nil, fmt.Errorf("response of POST %s exceeds max_output_bytes (%d bytes)", h.url, h.maxOutput)
	}
	return out, nil
}

// printable returns b as text for an error message, with invalid UTF-8
// replaced and surrounding space trimmed.
func printable(b []byte) string {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return strings.TrimSpace(string(b))
}
