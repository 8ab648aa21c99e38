package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lbd-dev/lbd/api"
)

// submitRetries is how many times a submit that carries idempotency keys is
// sent again after the master was unreachable.
const submitRetries = 3

// waitStep is the ?wait= of each request that Wait sends.
const waitStep = 30 * time.Second

// Submit submits one task and returns its id. When req.Key is set, Submit
// retries up to 3 times, with backoff, after the master was unreachable:
// the key makes a repeated submit return the first task's id.
func (c *Client) Submit(ctx context.Context, req api.TaskRequest) (string, error) {
	var out api.SubmitResponse
	err := c.retryUnreachable(ctx, req.Key != "", func() error {
		return c.do(ctx, http.MethodPost, "/v1/tasks", req, &out, 0)
	})
	if err != nil {
		return "", err
	}
	return out.ID, nil
}

// SubmitBatch submits tasks all together, all or none, and returns their
// ids in order. It retries like Submit when every task has a key.
func (c *Client) SubmitBatch(ctx context.Context, reqs []api.TaskRequest) ([]string, error) {
	if reqs == nil {
		reqs = []api.TaskRequest{} // sent as [], which the master rejects as empty
	}
	keyed := len(reqs) > 0
	for i := range reqs {
		keyed = keyed && reqs[i].Key != ""
	}

	var out api.BatchResponse
	err := c.retryUnreachable(ctx, keyed, func() error {
		return c.do(ctx, http.MethodPost, "/v1/tasks/batch", reqs, &out, 0)
	})
	if err != nil {
		return nil, err
	}
	if len(out.IDs) != len(reqs) {
		return nil, fmt.Errorf("submit batch: master returned %d ids for %d tasks", len(out.IDs), len(reqs))
	}
	return out.IDs, nil
}

// retryUnreachable calls send, and when retry is set calls it again after
// an ErrUnreachable up to submitRetries times, doubling the delay each time.
func (c *Client) retryUnreachable(ctx context.Context, retry bool, send func() error) error {
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		err := send()
		if !retry || attempt == submitRetries || !errors.Is(err, ErrUnreachable) {
			return err
		}

		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w; gave up retrying: %w", err, context.Cause(ctx))
		case <-timer.C:
		}
		delay *= 2
	}
}

// Get returns the task with the given id.
func (c *Client) Get(ctx context.Context, id string) (api.Task, error) {
	return c.getTask(ctx, id, 0)
}

// Wait returns the task once it is final. It polls with requests that each
// wait up to 30 s on the master. When ctx ends first it returns the last
// state it saw and the context's error.
func (c *Client) Wait(ctx context.Context, id string) (api.Task, error) {
	var last api.Task
	for {
		t, err := c.getTask(ctx, id, waitStep)
		if err != nil {
			return last, err
		}
		last = t
		if t.Status.Final() {
			return t, nil
		}
		if err := ctx.Err(); err != nil {
			return t, context.Cause(ctx)
		}
	}
}

func (c *Client) getTask(ctx context.Context, id string, wait time.Duration) (api.Task, error) {
	if err := checkID(id); err != nil {
		return api.Task{}, err
	}
	path := "/v1/tasks/" + url.PathEscape(id)
	if wait > 0 {
		path += "?wait=" + wait.String()
	}
	var t api.Task
	err := c.do(ctx, http.MethodGet, path, nil, &t, wait)
	return t, err
}

// Cancel cancels the task and returns its final state.
func (c *Client) Cancel(ctx context.Context, id string) (api.Task, error) {
	if err := checkID(id); err != nil {
		return api.Task{}, err
	}
	var t api.Task
	err := c.do(ctx, http.MethodDelete, "/v1/tasks/"+url.PathEscape(id), nil, &t, 0)
	return t, err
}

// Retry queues a failed task again with fresh attempts.
func (c *Client) Retry(ctx context.Context, id string) (api.Task, error) {
	if err := checkID(id); err != nil {
		return api.Task{}, err
	}
	var t api.Task
	err := c.do(ctx, http.MethodPost, "/v1/tasks/"+url.PathEscape(id)+"/retry", nil, &t, 0)
	return t, err
}

// Workers returns the connected workers, sorted by node name.
func (c *Client) Workers(ctx context.Context) ([]api.Worker, error) {
	var out api.WorkersResponse
	if err := c.do(ctx, http.MethodGet, "/v1/workers", nil, &out, 0); err != nil {
		return nil, err
	}
	return out.Workers, nil
}

// Status returns the master's queue gauges and counters.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var out api.Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &out, 0)
	return out, err
}

func checkID(id string) error {
	if id == "" {
		return errors.New("invalid task id \"\": give the id that submit returned")
	}
	return nil
}
