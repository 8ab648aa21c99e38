package client

import (
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

// ErrInvalidAddress is wrapped by the errors of every request of a Client
// whose address New could not parse.
var ErrInvalidAddress = errors.New("invalid master address")

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
