package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/lbd-dev/lbd/scheduler"
)

// httpError is an error response that a handler chose itself.
type httpError struct {
	status int
	msg    string
	field  string
	cause  error // for the log; may be nil
}

func (e *httpError) Error() string { return e.msg }

func (e *httpError) Unwrap() error { return e.cause }

func badRequest(field, format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...), field: field}
}

// bodyTooLarge reports a request body over the limit. size is the body's
// length when the request declared it, otherwise -1.
func bodyTooLarge(limit, size int64) *httpError {
	msg := fmt.Sprintf("request body exceeds the limit of %d bytes; send fewer tasks per request", limit)
	if size >= 0 {
		msg = fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes; send fewer tasks per request", size, limit)
	}
	return &httpError{status: http.StatusRequestEntityTooLarge, msg: msg}
}

// errorResponse maps err to a status code and a response body.
func errorResponse(err error) (int, ErrorResponse) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, ErrorResponse{Error: he.msg, Field: he.field}
	}

	body := ErrorResponse{Error: err.Error()}
	var fe *FieldError
	var ie *scheduler.InvalidError
	switch {
	case errors.As(err, &fe):
		body.Field = fe.Field
	case errors.As(err, &ie):
		body.Field = ie.Field
		if ie.Index >= 0 {
			body.Field = batchField(ie.Index, ie.Field)
		}
		body.Error = body.Field + ": " + ie.Reason
	}
	return statusOf(err), body
}

// statusOf returns the status code for an error of the scheduler.
func statusOf(err error) int {
	switch {
	case errors.Is(err, scheduler.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, scheduler.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, scheduler.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, scheduler.ErrPayloadTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, scheduler.ErrQueueFull):
		return http.StatusTooManyRequests
	case errors.Is(err, scheduler.ErrStore), errors.Is(err, scheduler.ErrStopped):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail writes the error response for err and logs it: 5xx at error level,
// 4xx at debug level.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorResponse(err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}

	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "err", err}
	if body.Field != "" {
		attrs = append(attrs, "field", body.Field)
	}
	if status >= 500 {
		s.log.Error("request failed", attrs...)
	} else {
		s.log.Debug("request rejected", attrs...)
	}

	s.writeJSON(w, r, status, body)
}
