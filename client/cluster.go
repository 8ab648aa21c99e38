package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lbd-dev/lbd/api"
)

// ListOptions select the tasks that List returns. Zero fields select
// everything, newest first, in pages of api.DefaultListLimit.
type ListOptions struct {
	Status string // queued, scheduled, running, retrying, succeeded, failed or canceled
	Type   string
	Limit  int    // 1 to 1000
	After  string // the Next of the previous page
	Oldest bool   // oldest submitted first instead of newest first
}

// List returns one page of tasks. The page's Next, when not empty, is the
// After of the following page.
func (c *Client) List(ctx context.Context, opts ListOptions) (api.TaskList, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", opts.Status)
	set("type", opts.Type)
	set("after", opts.After)
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Oldest {
		q.Set("order", "oldest")
	}
	path := "/v1/tasks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.TaskList
	err := c.do(ctx, http.MethodGet, path, nil, &out, 0)
	return out, err
}

// Members returns the nodes in the master's gossip view, sorted by name.
func (c *Client) Members(ctx context.Context) ([]api.Member, error) {
	var out api.MembersResponse
	if err := c.do(ctx, http.MethodGet, "/v1/members", nil, &out, 0); err != nil {
		return nil, err
	}
	return out.Members, nil
}

// Drain asks the named worker to drain: it stops taking tasks, finishes or
// hands back the ones it runs, leaves the cluster and exits. The error
// wraps an *APIError with status 404 when no such worker is connected.
func (c *Client) Drain(ctx context.Context, node string) error {
	if node == "" {
		return errors.New("invalid node name \"\": give the worker's node name as lbd workers lists it")
	}
	var out api.DrainResponse
	return c.do(ctx, http.MethodPost, "/v1/workers/"+url.PathEscape(node)+"/drain", nil, &out, 0)
}

// History returns the master's samples of the last minutes, oldest first.
func (c *Client) History(ctx context.Context) (api.HistoryResponse, error) {
	var out api.HistoryResponse
	err := c.do(ctx, http.MethodGet, "/v1/history", nil, &out, 0)
	return out, err
}
