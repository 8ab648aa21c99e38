package store

import (
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// queuesBucket maps a queue name to its state. The first stored queue state
// creates it, so a store written before queue states existed lacks it, and
// so does a store whose queues were never paused. lbd versions that predate
// the bucket read the same format version and ignore the bucket, so they
// open the store and see every queue unpaused.
var queuesBucket = []byte("queues")

// The value of a queue in the queues bucket is the encoding byte, then one
// byte of flags. A new layout takes a new encoding value.
const (
	queueStateEncoding = 1
	queuePaused        = 1 << 0 // the only flag of encoding 1
)

// appendQueueState appends the encoded state of q, or returns buf
// unchanged when q has nothing to store.
func appendQueueState(buf []byte, q QueueState) []byte {
	if !q.Paused {
		return buf
	}
	return append(buf, queueStateEncoding, queuePaused)
}

// decodeQueueState decodes the value that appendQueueState wrote for the
// queue named by key.
func decodeQueueState(key, value []byte) (QueueState, error) {
	if len(value) == 0 {
		return QueueState{}, errors.New("invalid queue state: empty value")
	}
	if value[0] != queueStateEncoding {
		return QueueState{}, fmt.Errorf("unknown queue state encoding %d: this lbd reads encoding %d",
			value[0], queueStateEncoding)
	}
	if len(value) != 2 {
		return QueueState{}, fmt.Errorf("invalid queue state: %d bytes, want 2", len(value))
	}
	if flags := value[1]; flags != queuePaused {
		return QueueState{}, fmt.Errorf("invalid queue state: flags %#x, want %#x (paused)", flags, queuePaused)
	}
	return QueueState{Name: string(key), Paused: true}, nil
}

// LoadQueues returns the stored queue states, sorted by name.
func (s *Bolt) LoadQueues() ([]QueueState, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	var states []QueueState
	err := s.db.View(func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(queuesBucket)
		if bucket == nil {
			return nil // written before queue states existed, or never paused
		}
		return bucket.ForEach(func(key, value []byte) error {
			if value == nil {
				return fmt.Errorf("unexpected nested bucket %q in the queues bucket", key)
			}
			q, err := decodeQueueState(key, value)
			if err != nil {
				return fmt.Errorf("queue %q: %w", key, err)
			}
			states = append(states, q)
			return nil
		})
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("load queue states of store %s: %w: the file is damaged or was written by a newer lbd: upgrade lbd or move the data directory away",
			s.path, err)
	}
	return states, nil
}
