package metrics

import (
	"context"
	"log/slog"
)

// CountErrors returns a handler that passes every record to h and calls
// count for each record at error level or above. lbd gives it to the gossip
// layer, whose memberlist [ERR] lines arrive at error level, to feed
// lbd_gossip_errors_total.
func CountErrors(h slog.Handler, count func()) slog.Handler {
	return &errorCounter{next: h, count: count}
}

type errorCounter struct {
	next  slog.Handler
	count func()
}

func (c *errorCounter) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelError || c.next.Enabled(ctx, level)
}

func (c *errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		c.count()
		if !c.next.Enabled(ctx, r.Level) {
			return nil
		}
	}
	return c.next.Handle(ctx, r)
}

func (c *errorCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &errorCounter{next: c.next.WithAttrs(attrs), count: c.count}
}

func (c *errorCounter) WithGroup(name string) slog.Handler {
	return &errorCounter{next: c.next.WithGroup(name), count: c.count}
}
