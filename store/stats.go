package store

import "time"

// Stats contains counters and timings of a Bolt store since Open.
type Stats struct {
	Commits  uint64 // transactions committed
	Failures uint64 // transactions that failed, whose writes all got the error
	Writes   uint64 // Write calls made durable
	Records  uint64 // puts and deletes in committed transactions

	// Wall time of one committed transaction, from its start to the end of
	// its last fdatasync.
	LastCommit, MaxCommit time.Duration

	// Time that bbolt spent writing pages and calling fdatasync within one
	// committed transaction.
	LastSync, MaxSync time.Duration
}

// Stats returns the counters and timings since Open.
func (s *Bolt) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}
