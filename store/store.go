package store

import (
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// ErrClosed is returned by Write and Load after Close.
var ErrClosed = errors.New("store closed")

// Record is the stored form of one task. The store reads only ID and Seq.
type Record struct {
	ID          string
	Seq         uint64 // submission order
	Type        string
	Payload     []byte
	Key         string // idempotency key, "" if none
	Status      string // queued|running|retrying|succeeded|failed|canceled
	Attempt     uint32 // number of the last attempt handed out (0 = never)
	Failures    uint32 // attempts that counted against MaxAttempts
	MaxAttempts uint32
	Timeout     int64 // ns
	Worker      string
	Output      []byte
	Error       string

	// Times in Unix nanoseconds, 0 when unset. RunAt is the earliest time of
	// the next attempt (retry backoff).
	Created, Started, Finished, RunAt int64

	Queue    string // named queue; "" in records written before queues existed
	Priority int64  // higher runs first within the queue
}

// QueueState is the stored state of one queue. Only paused queues have an
// entry: storing a state that is not paused deletes the queue's entry.
type QueueState struct {
	Name   string
	Paused bool
}

// Batch is one atomic group of changes. Puts are applied in order, then
// Deletes, so an id in both lists ends up deleted. Queues are applied last,
// in order.
type Batch struct {
	Put    []*Record
	Delete []string // task ids
	Queues []QueueState
}

// Store is the durable task store of the master. Its methods may be called
// from any goroutine.
type Store interface {
	// Write applies b atomically and returns once it is durable. Concurrent
	// Writes are merged into one transaction and one fsync (group commit), and
	// each caller gets the error of its group. Write reads the records before
	// it returns and keeps no reference to them.
	Write(b Batch) error

	// Load calls fn for every stored record in Seq order. The master calls it
	// once at start-up. An error from fn stops Load and is returned.
	Load(fn func(*Record) error) error

	// LoadQueues returns the stored queue states, sorted by name. The
	// master calls it once at start-up.
	LoadQueues() ([]QueueState, error)

	// Close waits for queued writes and closes the store. It is safe to call
	// twice. Write and Load after Close return ErrClosed.
	Close() error
}

var (
	_ Store = (*Bolt)(nil)
	_ Store = (*Memory)(nil)
)

// validateBatch checks what bbolt would reject, so that one bad batch fails
// alone instead of failing every batch in its group commit.
func validateBatch(b Batch) error {
	for i, r := range b.Put {
		if r == nil {
			return fmt.Errorf("invalid batch: put %d of %d is a nil record", i+1, len(b.Put))
		}
		if err := validateID(r.ID); err != nil {
			return fmt.Errorf("invalid batch: put %d of %d (seq %d): %w", i+1, len(b.Put), r.Seq, err)
		}
		if n := encodedSize(r); n > bbolt.MaxValueSize {
			return fmt.Errorf("invalid batch: task %s encodes to %d bytes, over bbolt's value limit of %d bytes: shrink its payload or output",
				r.ID, n, bbolt.MaxValueSize)
		}
	}
	for i, id := range b.Delete {
		if err := validateID(id); err != nil {
			return fmt.Errorf("invalid batch: delete %d of %d: %w", i+1, len(b.Delete), err)
		}
	}
	for i, q := range b.Queues {
		if q.Name == "" {
			return fmt.Errorf("invalid batch: queue state %d of %d has no queue name", i+1, len(b.Queues))
		}
		if len(q.Name) > bbolt.MaxKeySize {
			return fmt.Errorf("invalid batch: queue state %d of %d: queue name of %d bytes is too long: must be at most %d bytes",
				i+1, len(b.Queues), len(q.Name), bbolt.MaxKeySize)
		}
	}
	return nil
}

func validateID(id string) error {
	if id == "" {
		return errors.New("missing task id")
	}
	if len(id) > bbolt.MaxKeySize {
		return fmt.Errorf("task id of %d bytes is too long: must be at most %d bytes", len(id), bbolt.MaxKeySize)
	}
	return nil
}
