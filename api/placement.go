package api

import (
	"fmt"
	"time"
)

// runAt returns the time from RunAt or Delay, zero when neither is set.
func (r *TaskRequest) runAt(now time.Time) (time.Time, error) {
	switch {
	case r.RunAt != "" && r.Delay != "":
		return time.Time{}, &FieldError{Field: "delay", Reason: "set either run_at (a time) or delay (a duration), not both"}
	case r.RunAt != "":
		t, err := time.Parse(time.RFC3339, r.RunAt)
		if err != nil {
			return time.Time{}, &FieldError{Field: "run_at", Reason: fmt.Sprintf(
				"invalid time %q: use RFC 3339 such as \"2026-01-02T15:04:05Z\"", r.RunAt)}
		}
		return t, nil
	case r.Delay != "":
		d, err := time.ParseDuration(r.Delay)
		if err != nil {
			return time.Time{}, &FieldError{Field: "delay", Reason: fmt.Sprintf(
				"invalid duration %q: use a Go duration such as \"90s\" or \"2h\"", r.Delay)}
		}
		if d < 0 {
			return time.Time{}, &FieldError{Field: "delay", Reason: fmt.Sprintf("%q is negative", r.Delay)}
		}
		return now.Add(d), nil
	}
	return time.Time{}, nil
}
