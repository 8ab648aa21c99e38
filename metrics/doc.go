// Package metrics exposes an lbd node's Prometheus metrics. The master's
// task counters and histograms are updated through the scheduler's
// Observer, with one cached metric child per task type; every gauge is read
// from the scheduler, the store or gossip when Prometheus scrapes.
package metrics
