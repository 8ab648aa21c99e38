package store

import (
	"errors"
	"sync/atomic"
)

// Memory is the store for durability "none": Write checks the batch and
// keeps nothing, and Load and LoadQueues load nothing. A master restart
// loses every task and every queue's pause.
type Memory struct {
	closed atomic.Bool
}

// NewMemory returns an open Memory store.
func NewMemory() *Memory { return &Memory{} }

// Write checks b the way Bolt does and discards it. It returns ErrClosed
// after Close.
func (m *Memory) Write(b Batch) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return validateBatch(b)
}

// Load calls fn for no record. It returns ErrClosed after Close.
func (m *Memory) Load(fn func(*Record) error) error {
	if fn == nil {
		return errors.New("load task store: nil callback")
	}
	if m.closed.Load() {
		return ErrClosed
	}
	return nil
}

// LoadQueues returns no queue state. It returns ErrClosed after Close.
func (m *Memory) LoadQueues() ([]QueueState, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return nil, nil
}

// Close marks the store closed. It is safe to call more than once.
func (m *Memory) Close() error {
	m.closed.Store(true)
	return nil
}
