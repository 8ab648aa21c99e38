package daemon

import (
	"fmt"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/wire"
)

// schedulerQueues converts the queues of a Hello for the scheduler, which
// checks them.
func schedulerQueues(qs []wire.QueueWeight) []scheduler.QueueWeight {
	if len(qs) == 0 {
		return nil
	}
	out := make([]scheduler.QueueWeight, len(qs))
	for i, q := range qs {
		out[i] = scheduler.QueueWeight{Name: q.Name, Weight: q.Weight}
	}
	return out
}

// wireQueues parses the worker's queue list for Hello. An empty list, from
// a Config built without config.Defaults, means the default queue.
func wireQueues(text string) ([]wire.QueueWeight, error) {
	if text == "" {
		return nil, nil
	}
	qs, err := config.ParseQueues(text)
	if err != nil {
		return nil, fmt.Errorf("invalid worker queues: %w", err)
	}
	out := make([]wire.QueueWeight, len(qs))
	for i, q := range qs {
		out[i] = wire.QueueWeight{Name: q.Name, Weight: q.Weight}
	}
	return out, nil
}

// queueLimits converts the master's queue blocks for the scheduler.
func queueLimits(qs map[string]config.QueueLimits) map[string]scheduler.QueueLimits {
	out := make(map[string]scheduler.QueueLimits, len(qs))
	for name, q := range qs {
		out[name] = scheduler.QueueLimits{MaxQueuedTasks: q.MaxQueuedTasks, MaxQueuedBytes: q.MaxQueuedBytes}
	}
	return out
}
