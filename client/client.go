// Package client is the Go client of the master's HTTP API.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTimeout is the default limit on one request. A request that waits
// for a task gets its wait time on top.
const DefaultTimeout = 30 * time.Second

// Client sends requests to one master. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host:port and any path prefix, without a trailing slash
	addrErr error  // set when the address given to New is invalid
	http    *http.Client
	timeout time.Duration
	backoff time.Duration // delay before the first retry of a keyed submit
	token   string        // API bearer token; "" sends none
	optErr  error         // set when an Option failed, such as WithCAFile
}

// Option changes a Client that New creates.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc, for TLS
// settings or a custom transport. The Client's own timeouts still apply.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithRootCAs makes the Client verify the certificate of an https master
// against the CA certificates in pool instead of the system's. It
// replaces the http.Client of an earlier WithHTTPClient.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *Client) {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.http = &http.Client{Transport: transport}
	}
}

// WithCAFile is WithRootCAs with the PEM certificates of the file at
// path, such as the cluster's ca.pem. When the file cannot be read or
// holds no certificate, every request fails with an error that names it.
func WithCAFile(path string) Option {
	return func(c *Client) {
		data, err := os.ReadFile(path)
		if err != nil {
			c.optErr = fmt.Errorf("%w: read the CA file of the master's certificate: %w", ErrInvalidCAFile, err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			c.optErr = fmt.Errorf("%w: %s contains no PEM certificate: give the CA certificate that signed the master's HTTPS certificate, such as the cluster's ca.pem", ErrInvalidCAFile, path)
			return
		}
		WithRootCAs(pool)(c)
	}
}

// WithTimeout sets the limit on one request; d <= 0 keeps DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithToken makes the Client send the master's API token (api_token) as
// "Authorization: Bearer TOKEN" on every request. "" sends none.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// New returns a Client for the master at addr, either "host:port" or a URL
// such as "http://host:port" or "https://host:port". An invalid addr makes
// every request fail with an error that wraps ErrInvalidAddress and names
// it.
func New(addr string, opts ...Option) *Client {
	c := &Client{http: &http.Client{}, timeout: DefaultTimeout, backoff: 250 * time.Millisecond}
	c.base, c.addrErr = baseURL(addr)
	for _, opt := range opts {
		opt(c)
	}
	return c
}

func baseURL(addr string) (string, error) {
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "") {
		err = fmt.Errorf("want host:port, http://host:port or https://host:port")
	}
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidAddress, addr, err)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"), nil
}

// do sends one request with in as its JSON body, when not nil, and decodes
// the response into out. wait is added to the request's time limit.
func (c *Client) do(ctx context.Context, method, path string, in, out any, wait time.Duration) error {
	if c.addrErr != nil {
		return c.addrErr
	}
	if c.optErr != nil {
		return c.optErr
	}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(raw)
	}

	reqCtx, cancel := context.WithTimeout(ctx, c.timeout+wait)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, context.Cause(ctx))
		}
		return describeTransportError(req.URL.Host, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 300 {
		return readAPIError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response to %s %s (%s): %w", method, path, resp.Status, err)
	}
	return nil
}
