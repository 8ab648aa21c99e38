package scheduler

import (
	"fmt"
	"time"
)

// Priority bounds of a task. Within a queue, a task of higher priority is
// handed out before every task of lower priority.
const (
	MinPriority = -1000
	MaxPriority = 1000
)

// MaxScheduleAhead is how far in the future a task's RunAt may lie.
const MaxScheduleAhead = 366 * 24 * time.Hour

// validatePlacement checks and completes the queue, priority and run time
// of a spec.
func validatePlacement(sp *Spec, invalid func(field, reason string) error) error {
	if sp.Queue == "" {
		sp.Queue = DefaultQueue
	}
	if err := checkName(sp.Queue); err != nil {
		return invalid("queue", err.Error())
	}
	if sp.Priority < MinPriority || sp.Priority > MaxPriority {
		return invalid("priority", fmt.Sprintf("%d is out of range %d..%d", sp.Priority, MinPriority, MaxPriority))
	}
	if !sp.RunAt.IsZero() && time.Until(sp.RunAt) > MaxScheduleAhead {
		return invalid("run_at", fmt.Sprintf("%s is more than %s ahead", sp.RunAt.Format(time.RFC3339), MaxScheduleAhead))
	}
	return nil
}
