package api

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/lbd-dev/lbd/scheduler"
)

// FieldError reports a request field that is not acceptable. It wraps
// scheduler.ErrInvalid.
type FieldError struct {
	Field  string // "timeout", or "tasks[3].timeout" within a batch
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns scheduler.ErrInvalid.
func (e *FieldError) Unwrap() error { return scheduler.ErrInvalid }

// batchField returns the name of a field of the task at index i of a batch.
func batchField(i int, field string) string {
	return fmt.Sprintf("tasks[%d].%s", i, field)
}

// Spec checks the fields that the API converts and returns the task as the
// scheduler takes it. The error is a *FieldError. The scheduler checks the
// rest: the characters of the type, the range of max_attempts, the length of
// the key and the payload limit.
func (r *TaskRequest) Spec() (scheduler.Spec, error) {
	if r.Type == "" {
		return scheduler.Spec{}, &FieldError{Field: "type", Reason: "missing"}
	}

	payload, err := r.payload()
	if err != nil {
		return scheduler.Spec{}, err
	}

	timeout, err := parseTimeout(r.Timeout)
	if err != nil {
		return scheduler.Spec{}, err
	}

	runAt, err := r.runAt(time.Now())
	if err != nil {
		return scheduler.Spec{}, err
	}

	return scheduler.Spec{
		Type:        r.Type,
		Payload:     payload,
		Timeout:     timeout,
		MaxAttempts: r.MaxAttempts,
		Key:         r.Key,
		Queue:       r.Queue,
		Priority:    r.Priority,
		RunAt:       runAt,
	}, nil
}

// PayloadField returns the name of the field that carries the payload.
func (r *TaskRequest) PayloadField() string {
	if r.PayloadBase64 != "" {
		return "payload_base64"
	}
	return "payload"
}

func (r *TaskRequest) payload() ([]byte, error) {
	if r.PayloadBase64 == "" {
		return []byte(r.Payload), nil
	}
	if r.Payload != "" {
		return nil, &FieldError{Field: "payload_base64", Reason: "set either payload (UTF-8 text) or payload_base64 (any bytes), not both"}
	}
	b, err := base64.StdEncoding.DecodeString(r.PayloadBase64)
	if err != nil {
		return nil, &FieldError{Field: "payload_base64", Reason: fmt.Sprintf("invalid base64: %v; use the standard alphabet with '=' padding", err)}
	}
	return b, nil
}

// parseTimeout parses a task timeout; "" selects the default.
func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &FieldError{Field: "timeout", Reason: fmt.Sprintf("invalid duration %q: use a Go duration such as \"30s\" or \"1m30s\"", s)}
	}
	if d <= 0 {
		return 0, &FieldError{Field: "timeout", Reason: fmt.Sprintf("%q is not positive: use a duration such as \"30s\", or leave timeout out for the default", s)}
	}
	return d, nil
}
