// Package store keeps the master's tasks on disk so that a task survives a
// master crash once the API has returned its id.
//
// Bolt is the durable store: one bbolt file, dir/tasks.db, with every task
// stored as one key-value pair keyed by task id, and every paused queue as
// one key-value pair keyed by queue name. A single committer goroutine
// merges the Write calls that arrive while a transaction commits into the next
// transaction, so concurrent writers share one fsync (group commit). Memory is
// the store for durability "none": it keeps nothing.
//
// The package imports no other lbd package, and it reads only the ID and Seq
// of a Record.
package store
