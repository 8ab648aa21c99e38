package client

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lbd-dev/lbd/api"
)

// ErrUnreachable is wrapped by the errors of requests that got no response
// from the master: the connection was refused or broke, or the request timed
// out.
var ErrUnreachable = errors.New("master unreachable")

// ErrTLS is wrapped by the errors of requests that failed because the
// master's TLS setup and the client's do not match. The causes are plain
// HTTP against HTTPS or the reverse, a certificate from a CA that the
// client does not trust, and one that does not name the address. The
// message states what to change, and such a request is not retried.
var ErrTLS = errors.New("TLS mismatch")

// ErrInvalidAddress is wrapped by the errors of every request of a Client
// whose address New could not parse.
var ErrInvalidAddress = errors.New("invalid master address")

// ErrInvalidCAFile is wrapped by the errors of a Client whose WithCAFile
// file cannot be read or holds no certificate. No request is sent.
var ErrInvalidCAFile = errors.New("invalid CA file")

// APIError is an error response of the master.
type APIError struct {
	StatusCode int
	Message    string
	Field      string // the request field at fault, such as "tasks[3].type"; may be empty
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.StatusCode)
}

// maxErrorBody is how much of an error response is read.
const maxErrorBody = 64 << 10

// readAPIError builds the APIError of a response with an error status. A
// body that is not the API's JSON, from a proxy for example, becomes the
// message.
func readAPIError(resp *http.Response) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return fmt.Errorf("%w: read error response %s: %w", ErrUnreachable, resp.Status, err)
	}

	if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(raw), "HTTP request to an HTTPS server") {
		host := resp.Request.URL.Host
		return fmt.Errorf("%w: the master at %s serves HTTPS, and this client sent plain HTTP: use the address https://%s, with the master's CA in -api-ca-file (LBD_API_CA_FILE) or client.WithCAFile",
			ErrTLS, host, host)
	}

	var body api.ErrorResponse
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		return &APIError{StatusCode: resp.StatusCode, Message: body.Error, Field: body.Field}
	}
	msg := resp.Status
	if text := strings.TrimSpace(string(raw)); text != "" {
		msg += ": " + text
	}
	return &APIError{StatusCode: resp.StatusCode, Message: msg}
}

// describeTransportError returns err with what to change when it is a TLS
// mismatch, wrapping ErrTLS, and else wrapping ErrUnreachable.
func describeTransportError(host string, err error) error {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%w: the master at %s serves plain HTTP, and this client speaks HTTPS: use the address http://%s, or set api_tls_cert_file and api_tls_key_file on the master",
			ErrTLS, host, host)
	case errors.As(err, &unknown):
		issuer := "an unknown CA"
		if unknown.Cert != nil {
			issuer = fmt.Sprintf("%q", unknown.Cert.Issuer.CommonName)
		}
		return fmt.Errorf("%w: the certificate of the master at %s is signed by %s, which this client does not trust: pass that CA's certificate with -api-ca-file (LBD_API_CA_FILE) or client.WithCAFile: %w",
			ErrTLS, host, issuer, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: the certificate of the master does not name %s: use an address that it names, or issue it with that host (lbd tls-cert -host): %w",
			ErrTLS, host, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("%w: the certificate of the master at %s is expired or not yet valid: renew it on the master, or check this host's clock: %w", ErrTLS, host, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}
