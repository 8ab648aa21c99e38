package worker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/lbd-dev/lbd/wire"
)

// Defaults that New applies to zero Config fields.
const (
	defaultDialTimeout  = 5 * time.Second
	defaultDrainTimeout = 30 * time.Second
)

// resultOverhead is the part of a frame that a Result needs besides the
// output: task id, error text and the fixed fields.
const resultOverhead = 64 << 10

// minFrameBytes is the smallest MaxFrameBytes that leaves room for output.
const minFrameBytes = 2 * resultOverhead

// Config configures a Worker. New copies it, so later changes to the caller's
// value have no effect; Update changes Slots and Handlers at run time.
type Config struct {
	// Node is the worker's gossip node name, sent in Hello. Required.
	Node string

	// Version is the lbd build version, sent in Hello for the master's logs.
	Version string

	// Slots is the population: how many attempts run at once. At least 1.
	Slots int

	// Handlers maps each task type the worker runs to its handler. At least
	// one entry; the sorted names are advertised to the master.
	Handlers map[string]Handler

	// MaxFrameBytes is the limit on one task-connection frame in both
	// directions. 0 means wire.DefaultMaxFrame; otherwise at least 128 KiB.
	MaxFrameBytes int

	// MaxOutputBytes caps the output of every handler; an attempt with more
	// output fails with an error naming the cap. 0 means the frame limit
	// minus 64 KiB, which is also the maximum, so that a Result always fits
	// in one frame.
	MaxOutputBytes int64

	// DrainTimeout is how long Drain waits for running attempts before it
	// hands them back, and how long it then waits for a connection to send
	// their results on. 0 means 30 s.
	DrainTimeout time.Duration

	// DialTimeout bounds one TCP connect to the master. 0 means 5 s.
	DialTimeout time.Duration

	// GossipAddr is the worker's gossip address, sent in Hello so that a
	// master that restarted can join it. "" sends none.
	GossipAddr string

	// GossipKey returns the primary gossip key, which answers the master's
	// Challenge on every connection; it is called per connection, so a
	// rotated key takes effect at the next one. nil, or a nil result, means
	// the worker has no key: it then cannot connect to a master that
	// challenges, and with a key it refuses a master that does not.
	GossipKey func() []byte

	// TLS returns the TLS configuration of the next connection to the
	// master at addr, or nil for plain TCP. It is called per connection,
	// so certificates that a reload replaced apply from the next one. On a
	// TLS connection the response to the Challenge and the master's proof
	// are bound to the TLS session. nil means plain TCP.
	TLS func(addr string) (*tls.Config, error)

	// Queues are the queues the worker serves with their weights, sent in
	// Hello; the master checks them. Empty means the queue "default".
	Queues []wire.QueueWeight

	// StrictOrder makes the master serve Queues in list order: a slot
	// takes from a later queue only while every earlier one is empty.
	StrictOrder bool

	// Logger receives the worker's logs. nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with defaults applied, or every problem found.
func (cfg Config) withDefaults() (Config, error) {
	var problems []error
	if cfg.Node == "" {
		problems = append(problems, errors.New("missing node name: set the worker's gossip node name"))
	}
	if err := validateSlots(cfg.Slots); err != nil {
		problems = append(problems, err)
	}
	if err := validateHandlers(cfg.Handlers); err != nil {
		problems = append(problems, err)
	}

	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = wire.DefaultMaxFrame
	}
	maxOutputLimit := int64(cfg.MaxFrameBytes) - resultOverhead
	switch {
	case cfg.MaxFrameBytes < minFrameBytes:
		problems = append(problems, fmt.Errorf(
			"invalid max_frame_bytes %d: must be at least %d (128 KiB), or 0 for the default",
			cfg.MaxFrameBytes, minFrameBytes))
	case cfg.MaxOutputBytes < 0:
		problems = append(problems, fmt.Errorf(
			"invalid max_output_bytes %d: must be at least 1, or 0 for the default",
			cfg.MaxOutputBytes))
	case cfg.MaxOutputBytes == 0:
		cfg.MaxOutputBytes = maxOutputLimit
	case cfg.MaxOutputBytes > maxOutputLimit:
		problems = append(problems, fmt.Errorf(
			"invalid max_output_bytes %d: a result must fit in a frame of max_frame_bytes %d, "+
				"so set it to at most %d or raise max_frame_bytes",
			cfg.MaxOutputBytes, cfg.MaxFrameBytes, maxOutputLimit))
	}

	cfg.DrainTimeout = durationOrDefault(cfg.DrainTimeout, defaultDrainTimeout,
		"drain_timeout", &problems)
	cfg.DialTimeout = durationOrDefault(cfg.DialTimeout, defaultDialTimeout,
		"dial_timeout", &problems)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("invalid worker config: %w", errors.Join(problems...))
	}
	cfg.Handlers = copyHandlers(cfg.Handlers)
	return cfg, nil
}

func durationOrDefault(d, def time.Duration, name string, problems *[]error) time.Duration {
	if d < 0 {
		*problems = append(*problems, fmt.Errorf(
			"invalid %s %s: must be positive, or 0 for the default %s", name, d, def))
	}
	if d <= 0 {
		return def
	}
	return d
}

func validateSlots(slots int) error {
	if slots < 1 {
		return fmt.Errorf("invalid population %d: must be at least 1", slots)
	}
	return nil
}

func validateHandlers(handlers map[string]Handler) error {
	if len(handlers) == 0 {
		return errors.New("no handlers: configure at least one task type")
	}
	for _, name := range sortedTypes(handlers) {
		if name == "" {
			return errors.New(`invalid task type "": a task type name must not be empty`)
		}
		if handlers[name] == nil {
			return fmt.Errorf("handler for task type %q is nil: register a Handler or remove the type", name)
		}
	}
	return nil
}

func copyHandlers(handlers map[string]Handler) map[string]Handler {
	out := make(map[string]Handler, len(handlers))
	for name, h := range handlers {
		out[name] = h
	}
	return out
}

func sortedTypes(handlers map[string]Handler) []string {
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
