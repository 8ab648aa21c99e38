package worker

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Handler runs one task. Output is the task's result; an error fails the
// attempt. Handle is called from many goroutines at once, one per running
// attempt, and should return soon after ctx is done: the worker cancels ctx
// on timeout, on a Cancel from the master and when it drains.
type Handler interface {
	Handle(ctx context.Context, payload []byte) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// TaskInfo names the attempt that a handler runs.
type TaskInfo struct {
	ID      string
	Attempt uint32
	Type    string
}

type taskInfoKey struct{}

// TaskFromContext returns the attempt that the handler's ctx belongs to. It
// returns false for a context that the worker did not make.
func TaskFromContext(ctx context.Context) (TaskInfo, bool) {
	info, ok := ctx.Value(taskInfoKey{}).(TaskInfo)
	return info, ok
}

func withTaskInfo(ctx context.Context, info TaskInfo) context.Context {
	return context.WithValue(ctx, taskInfoKey{}, info)
}

// Echo returns a handler whose output is its payload.
func Echo() Handler {
	return HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		return payload, nil
	})
}

// Sleep returns a handler whose payload is a Go duration such as "250ms". It
// sleeps that long, or until ctx is done, and outputs "slept 250ms".
func Sleep() Handler {
	return HandlerFunc(sleep)
}

func sleep(ctx context.Context, payload []byte) ([]byte, error) {
	text := strings.TrimSpace(string(payload))
	d, err := time.ParseDuration(text)
	if err != nil {
		return nil, fmt.Errorf("invalid sleep payload %s: want a Go duration such as \"250ms\": %w",
			quoteShort(text), err)
	}
	if d < 0 {
		return nil, fmt.Errorf("invalid sleep payload %s: the duration must not be negative",
			quoteShort(text))
	}

	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return []byte("slept " + d.String()), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sleep of %s interrupted: %w", d, context.Cause(ctx))
	}
}

// quoteShort quotes s for an error message, cut to 64 bytes.
func quoteShort(s string) string {
	const limit = 64
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q (%d bytes)", s[:limit]+"...", len(s))
}
