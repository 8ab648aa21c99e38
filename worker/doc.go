// Package worker is the worker side of lbd's task protocol. A Worker keeps
// one task connection to the master and runs up to Slots attempts at once,
// each with the Handler registered for its task type, and sends every
// attempt's Result. To drain, it stops taking tasks, lets running attempts
// finish up to a deadline and hands the rest back to the master.
//
// Attempts run independently of the connection. When the connection breaks,
// the worker reconnects with backoff, lists its running attempts and its
// undelivered results in the next Hello, and sends those results once the
// master has welcomed it again.
package worker
