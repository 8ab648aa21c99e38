package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/lbd-dev/lbd/api"
)

// Queues returns the master's queues, sorted by name.
func (c *Client) Queues(ctx context.Context) ([]api.Queue, error) {
	var out api.QueuesResponse
	if err := c.do(ctx, http.MethodGet, "/v1/queues", nil, &out, 0); err != nil {
		return nil, err
	}
	return out.Queues, nil
}

// PauseQueue stops the master from handing out the tasks of a queue.
// Running attempts go on.
func (c *Client) PauseQueue(ctx context.Context, name string) error {
	return c.queueAction(ctx, name, "pause", nil)
}

// ResumeQueue hands out the tasks of a paused queue again.
func (c *Client) ResumeQueue(ctx context.Context, name string) error {
	return c.queueAction(ctx, name, "resume", nil)
}

// PurgeQueue cancels every queued, scheduled and retrying task of a queue
// and returns how many it canceled. It cannot be undone.
func (c *Client) PurgeQueue(ctx context.Context, name string) (int, error) {
	var out api.QueueActionResponse
	err := c.queueAction(ctx, name, "purge?confirm=true", &out)
	return out.Purged, err
}

func (c *Client) queueAction(ctx context.Context, name, action string, out *api.QueueActionResponse) error {
	if name == "" {
		return errors.New("invalid queue name \"\": give the name of a queue, such as default")
	}
	if out == nil {
		out = &api.QueueActionResponse{}
	}
	return c.do(ctx, http.MethodPost, "/v1/queues/"+url.PathEscape(name)+"/"+action, nil, out, 0)
}
