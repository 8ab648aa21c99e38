package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lbd-dev/lbd/scheduler"
)

// submitTask serves POST /v1/tasks. It returns 201 with the task's id, also
// when the request's key matched an earlier task, whose id it then returns.
func (s *Server) submitTask(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccepting(); err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}

	req, err := newTaskDecoder(body, "request body").task()
	if err != nil {
		return err
	}
	spec, err := s.spec(&req, -1)
	if err != nil {
		return err
	}

	ids, err := s.backend.Submit([]scheduler.Spec{spec})
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("scheduler returned %d ids for 1 task", len(ids))
	}
	w.Header().Set("Location", "/v1/tasks/"+ids[0])
	s.writeJSON(w, r, http.StatusCreated, SubmitResponse{ID: ids[0]})
	return nil
}

// submitBatch serves POST /v1/tasks/batch: all tasks are queued or none.
func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccepting(); err != nil {
		return err
	}
	body, err := s.body(w, r)
	if err != nil {
		return err
	}

	var specs []scheduler.Spec
	err = newTaskDecoder(body, "request body").batch(func(i int, req *TaskRequest) error {
		spec, err := s.spec(req, i)
		if err != nil {
			return err
		}
		specs = append(specs, spec)
		return nil
	})
	if err != nil {
		return err
	}
	if len(specs) == 0 {
		return badRequest("tasks", "tasks: empty; send at least one task")
	}

	ids, err := s.backend.Submit(specs)
	if err != nil {
		return batchError(err)
	}
	if len(ids) != len(specs) {
		return fmt.Errorf("scheduler returned %d ids for %d tasks", len(ids), len(specs))
	}
	s.writeJSON(w, r, http.StatusCreated, BatchResponse{IDs: ids})
	return nil
}

// batchError names the index in a scheduler error about the only task of a
// batch, which the scheduler reports without one.
func batchError(err error) error {
	var invalid *scheduler.InvalidError
	if errors.As(err, &invalid) && invalid.Index < 0 && invalid.Field != "tasks" {
		return &FieldError{Field: batchField(0, invalid.Field), Reason: invalid.Reason}
	}
	return err
}

// checkAccepting rejects submits once the master drains.
func (s *Server) checkAccepting() error {
	if s.draining.Load() {
		return &httpError{status: http.StatusServiceUnavailable, msg: "master is shutting down"}
	}
	return nil
}

// body returns the request body limited to MaxBodyBytes.
func (s *Server) body(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, bodyTooLarge(limit, r.ContentLength)
	}
	return http.MaxBytesReader(w, r.Body, limit), nil
}

// spec converts a decoded task and checks its payload size. index is the
// task's place in a batch, or -1 for a single task.
func (s *Server) spec(req *TaskRequest, index int) (scheduler.Spec, error) {
	name := func(field string) string {
		if index < 0 {
			return field
		}
		return batchField(index, field)
	}

	spec, err := req.Spec()
	var invalid *FieldError
	if errors.As(err, &invalid) {
		return spec, &FieldError{Field: name(invalid.Field), Reason: invalid.Reason}
	}

	limit := s.opts.MaxPayloadBytes
	if limit > 0 && int64(len(spec.Payload)) > limit {
		field := name(req.PayloadField())
		return spec, &httpError{
			status: http.StatusRequestEntityTooLarge,
			field:  field,
			msg:    fmt.Sprintf("%s: payload of %d bytes exceeds max_payload_bytes = %d", field, len(spec.Payload), limit),
			cause:  scheduler.ErrPayloadTooLarge,
		}
	}
	return spec, nil
}

// getTask serves GET /v1/tasks/{id}[?wait=30s].
func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	wait, err := s.waitParam(r)
	if err != nil {
		return err
	}

	var t scheduler.Task
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		stopWatch := context.AfterFunc(s.drained, cancel)
		defer stopWatch()
		t, err = s.backend.Wait(ctx, id)
	} else {
		t, err = s.backend.Get(id)
	}
	if err != nil {
		return taskError(id, err)
	}
	s.writeJSON(w, r, http.StatusOK, taskFromScheduler(t))
	return nil
}

// waitParam parses ?wait= and caps it at MaxWait; 0 means no wait.
func (s *Server) waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, badRequest("wait", "wait: invalid duration %q: use a Go duration such as \"30s\"", v)
	}
	if d < 0 {
		return 0, badRequest("wait", "wait: %q is negative: use a duration such as \"30s\"", v)
	}
	return min(d, s.opts.MaxWait), nil
}

// cancelTask serves DELETE /v1/tasks/{id}.
func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t, err := s.backend.Cancel(id)
	if errors.Is(err, scheduler.ErrConflict) {
		return &httpError{
			status: http.StatusConflict,
			msg:    fmt.Sprintf("task %s is already %s: only a task that is not final can be canceled", id, t.Status),
			cause:  err,
		}
	}
	if err != nil {
		return taskError(id, err)
	}
	s.writeJSON(w, r, http.StatusOK, taskFromScheduler(t))
	return nil
}

// retryTask serves POST /v1/tasks/{id}/retry.
func (s *Server) retryTask(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccepting(); err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := s.backend.Retry(id)
	if errors.Is(err, scheduler.ErrConflict) {
		return &httpError{
			status: http.StatusConflict,
			msg:    fmt.Sprintf("task %s is %s: only a failed task can be retried", id, t.Status),
			cause:  err,
		}
	}
	if err != nil {
		return taskError(id, err)
	}
	s.writeJSON(w, r, http.StatusOK, taskFromScheduler(t))
	return nil
}

// taskError words a scheduler error about the task with the given id.
func taskError(id string, err error) error {
	if errors.Is(err, scheduler.ErrNotFound) {
		return &httpError{
			status: http.StatusNotFound,
			msg:    fmt.Sprintf("task %q not found: the id is wrong, or the task ended longer than result_retention ago", id),
			cause:  err,
		}
	}
	return err
}
