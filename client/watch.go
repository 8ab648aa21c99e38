package client

import (
	"context"
	"errors"

	"github.com/lbd-dev/lbd/api"
)

// maxWatchers is how many Wait requests Watch keeps open at once.
const maxWatchers = 16

// WatchEvent is a task that became final, or the error that ended the
// watch of one id.
type WatchEvent struct {
	ID   string
	Task api.Task // valid when Err is nil
	Err  error
}

// Watch sends an event on the returned channel for each of ids as its task
// becomes final, in the order they end, and closes the channel once every
// id had its event or ctx ended. An id that is not found or cannot be
// reached gets an event with Err set. Up to 16 ids are waited for at once;
// a duplicate id gets one event.
func (c *Client) Watch(ctx context.Context, ids []string) <-chan WatchEvent {
	out := make(chan WatchEvent, min(len(ids), 1024))
	unique := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			unique = append(unique, id)
		}
	}

	work := make(chan string)
	done := make(chan struct{})
	workers := min(len(unique), maxWatchers)
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for id := range work {
				t, err := c.Wait(ctx, id)
				if err != nil && errors.Is(err, ctx.Err()) {
					return
				}
				select {
				case out <- WatchEvent{ID: id, Task: t, Err: err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(out)
	feed:
		for _, id := range unique {
			select {
			case work <- id:
			case <-ctx.Done():
				break feed
			}
		}
		close(work)
		for range workers {
			<-done
		}
	}()
	return out
}
