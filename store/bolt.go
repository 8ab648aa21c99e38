package store

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bolt is the durable store in one bbolt file. Open creates it. Its methods
// may be called from any goroutine.
//
// Lock order: mu, then statsMu. Neither is held across disk I/O. The
// committer goroutine alone runs write transactions.
type Bolt struct {
	db       *bbolt.DB
	path     string
	maxBatch int
	log      *slog.Logger

	mu     sync.Mutex // guards queue, closed and broken
	queue  []*group   // groups waiting for the committer, oldest first
	closed bool
	broken error // set after a commit failed in a way that leaves the file state unknown

	wake    chan struct{} // a token means queue or closed changed
	stopped chan struct{} // closed when the committer goroutine ends

	statsMu sync.Mutex
	stats   Stats

	// Only the committer goroutine uses these.
	lastFailLog   time.Time // time of the last log of a failed commit
	unloggedFails int       // failed commits since lastFailLog

	closeOnce sync.Once
	closeErr  error
}

func newBolt(db *bbolt.DB, path string, maxBatch int, logger *slog.Logger) *Bolt {
	s := &Bolt{
		db:       db,
		path:     path,
		maxBatch: maxBatch,
		log:      logger,
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
	go s.runCommitter()
	return s
}

// Path returns the path of the store file.
func (s *Bolt) Path() string { return s.path }

// Write applies b atomically and returns once it is durable (fsync'ed unless
// Options.NoSync is set). Writes that arrive while a transaction commits
// share the next transaction, and every Write of a failed transaction gets
// its error. An invalid batch is rejected before it joins a transaction. An
// empty batch returns at once.
func (s *Bolt) Write(b Batch) error {
	if err := validateBatch(b); err != nil {
		return err
	}
	ops, size := encodeBatch(b)
	g, err := s.enqueue(ops, size)
	if err != nil || g == nil {
		return err
	}
	<-g.done
	return g.err
}

// Load calls fn for every stored record in Seq order, and for records of
// equal Seq in id order. It reads every record before the first call, so fn
// may call Write.
func (s *Bolt) Load(fn func(*Record) error) error {
	if fn == nil {
		return errors.New("load task store: nil callback")
	}
	if err := s.usable(); err != nil {
		return err
	}

	start := time.Now()
	records, err := s.readAll()
	if err != nil {
		return err
	}
	slices.SortFunc(records, func(a, b *Record) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
	})

	for _, r := range records {
		if err := fn(r); err != nil {
			return fmt.Errorf("load task %s: %w", r.ID, err)
		}
	}
	s.log.Info("task store loaded", "path", s.path, "tasks", len(records), "took", time.Since(start))
	return nil
}

func (s *Bolt) usable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.broken
}

func (s *Bolt) readAll() ([]*Record, error) {
	var records []*Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(tasksBucket).ForEach(func(key, value []byte) error {
			if value == nil {
				return fmt.Errorf("unexpected nested bucket %q in the tasks bucket", key)
			}
			r, err := decodeRecord(key, value)
			if err != nil {
				return fmt.Errorf("task %q: %w", key, err)
			}
			records = append(records, r)
			return nil
		})
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("load task store %s: %w", s.path, err)
	}
	return records, nil
}

// Close commits every queued write, stops the committer and closes the file.
// Write and Load return ErrClosed once Close has begun. A second Close
// returns nil.
func (s *Bolt) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
		<-s.stopped

		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close task store %s: %w", s.path, err)
			s.log.Error("task store close failed", "path", s.path, "err", err)
			return
		}
		s.log.Info("task store closed", "path", s.path)
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// signal wakes the committer without blocking.
func (s *Bolt) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
