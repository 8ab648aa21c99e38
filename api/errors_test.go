package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/lbd-dev/lbd/scheduler"
)

func TestErrorResponseStatus(t *testing.T) {
	cases := []struct {
		err        error
		wantStatus int
		wantField  string
		wantError  string
	}{
		{fmt.Errorf("%w: disk full", scheduler.ErrStore), http.StatusServiceUnavailable, "", "store failed: disk full"},
		{scheduler.ErrStopped, http.StatusServiceUnavailable, "", "scheduler stopped"},
		{errors.New("something unexpected"), http.StatusInternalServerError, "", "something unexpected"},
		{fmt.Errorf("wrapped: %w", scheduler.ErrConflict), http.StatusConflict, "", "wrapped: task state does not allow this"},
		{&scheduler.InvalidError{Index: 4, Field: "type", Reason: "missing"}, http.StatusBadRequest, "tasks[4].type", "tasks[4].type: missing"},
		{&scheduler.InvalidError{Index: -1, Field: "key", Reason: "too long"}, http.StatusBadRequest, "key", "key: too long"},
		{&FieldError{Field: "timeout", Reason: "bad"}, http.StatusBadRequest, "timeout", "timeout: bad"},
	}
	for _, c := range cases {
		status, body := errorResponse(c.err)
		if status != c.wantStatus || body.Field != c.wantField || body.Error != c.wantError {
			t.Errorf("errorResponse(%v) = %d %+v, want %d field %q error %q",
				c.err, status, body, c.wantStatus, c.wantField, c.wantError)
		}
	}
}
