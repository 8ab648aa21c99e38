package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
)

// group is the set of writes that share one transaction. The last group in
// Bolt.queue takes new writes until it reaches maxBatch records or
// maxGroupBytes.
type group struct {
	ops    []op
	writes int // Write calls in the group
	bytes  int // encoded size of ops
	done   chan struct{}
	err    error // set before done is closed
}

func (g *group) finish(err error) {
	g.err = err
	close(g.done)
}

// enqueue adds the encoded changes of one Write to the open group and returns
// that group. It returns a nil group for an empty Write.
func (s *Bolt) enqueue(ops []op, size int) (*group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.broken != nil {
		return nil, s.broken
	}
	if len(ops) == 0 {
		return nil, nil
	}

	g := s.openGroupLocked(len(ops), size)
	g.ops = append(g.ops, ops...)
	g.writes++
	g.bytes += size
	s.signal()
	return g, nil
}

// openGroupLocked returns the last queued group if the new write fits, or
// queues a new group. s.mu must be held.
func (s *Bolt) openGroupLocked(records, size int) *group {
	if n := len(s.queue); n > 0 {
		g := s.queue[n-1]
		if len(g.ops)+records <= s.maxBatch && g.bytes+size <= maxGroupBytes {
			return g
		}
	}
	g := &group{done: make(chan struct{})}
	s.queue = append(s.queue, g)
	return g
}

// runCommitter commits the queued groups one transaction each, oldest first.
// It ends when the store is closed and the queue is empty.
func (s *Bolt) runCommitter() {
	defer close(s.stopped)
	for {
		g := s.takeGroup()
		if g == nil {
			return
		}
		s.commit(g)
	}
}

// takeGroup removes the oldest group from the queue, waiting for one. It
// returns nil once the store is closed and the queue is empty.
func (s *Bolt) takeGroup() *group {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			g := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return g
		}
		closed := s.closed
		s.mu.Unlock()

		if closed {
			return nil
		}
		<-s.wake
	}
}

func (s *Bolt) commit(g *group) {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		g.finish(broken)
		return
	}

	start := time.Now()
	writeTime, fatal, err := s.apply(g)
	s.recordCommit(g, time.Since(start), writeTime, err)
	if err == nil {
		g.finish(nil)
		return
	}

	err = fmt.Errorf("commit to task store %s: %w", s.path, err)
	if fatal {
		s.mu.Lock()
		s.broken = fmt.Errorf("task store %s rejects writes after a failed commit: restart lbd once the disk is fixed: %w",
			s.path, err)
		s.mu.Unlock()
	}
	s.logFailure(g, fatal, err)
	g.finish(err)
}

// failLogInterval is the minimum time between two logs of commits that
// failed without breaking the store, such as on a full disk. The next log
// counts the failures in between.
const failLogInterval = 10 * time.Second

func (s *Bolt) logFailure(g *group, fatal bool, err error) {
	now := time.Now()
	if !fatal && now.Sub(s.lastFailLog) < failLogInterval {
		s.unloggedFails++
		return
	}

	msg := "task store commit failed"
	if fatal {
		msg = "task store commit failed, the store rejects writes until lbd restarts"
	}
	s.log.Error(msg, "path", s.path, "changes", len(g.ops), "writes", g.writes,
		"unlogged_failures", s.unloggedFails, "err", err)
	s.lastFailLog = now
	s.unloggedFails = 0
}

// apply runs one transaction with every change of g. It returns the time
// bbolt spent writing pages and calling fdatasync, and whether the error
// leaves the file state unknown.
func (s *Bolt) apply(g *group) (writeTime time.Duration, fatal bool, err error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return 0, true, fmt.Errorf("begin transaction: %w", err)
	}

	tasks := tx.Bucket(tasksBucket)
	var queues *bbolt.Bucket // created on the first queue state
	for _, o := range g.ops {
		bucket, kind := tasks, "task"
		if o.queue {
			if queues == nil {
				if queues, err = tx.CreateBucketIfNotExists(queuesBucket); err != nil {
					tx.Rollback()
					return 0, false, fmt.Errorf("create queues bucket: %w", err)
				}
			}
			bucket, kind = queues, "queue state"
		}
		if o.value == nil {
			err = bucket.Delete(o.key)
		} else {
			err = bucket.Put(o.key, o.value)
		}
		if err != nil {
			tx.Rollback()
			return 0, false, fmt.Errorf("%s %s: %w", kind, o.key, err)
		}
	}

	err = tx.Commit()
	stats := tx.Stats()
	if err != nil {
		return stats.GetWriteTime(), !rolledBack(err), err
	}
	return stats.GetWriteTime(), false, nil
}

// rolledBack reports whether a failed Commit left the file as it was before
// the transaction, so that later transactions can succeed. bbolt v1.4 writes
// the data pages, calls fdatasync, then writes the meta page that makes them
// reachable, and rolls back its in-memory state when a write fails. A write
// that fails for lack of space leaves the last valid meta page in charge. A
// failed fdatasync is different: the kernel may have dropped the dirty pages,
// a later fsync may report success, and the meta page in the page cache may
// already point at pages that never reached the disk.
func rolledBack(err error) bool {
	var pathErr *os.PathError
	if !errors.As(err, &pathErr) || pathErr.Op != "write" {
		return false
	}
	return errors.Is(pathErr.Err, syscall.ENOSPC) || errors.Is(pathErr.Err, syscall.EDQUOT)
}

func (s *Bolt) recordCommit(g *group, took, writeTime time.Duration, err error) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if err != nil {
		s.stats.Failures++
		return
	}
	s.stats.Commits++
	s.stats.Writes += uint64(g.writes)
	s.stats.Records += uint64(len(g.ops))
	s.stats.LastCommit = took
	s.stats.MaxCommit = max(s.stats.MaxCommit, took)
	s.stats.LastSync = writeTime
	s.stats.MaxSync = max(s.stats.MaxSync, writeTime)
}
