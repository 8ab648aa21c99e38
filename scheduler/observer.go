package scheduler

import "time"

// Observer receives the scheduler's task events, for metrics. The
// scheduler asks it once per task type for a TypeObserver and keeps that,
// so that an event costs no lookup by type.
type Observer interface {
	// TypeObserver returns the observer of the tasks of one type. It is
	// called with the scheduler's lock held, once per type.
	TypeObserver(typ string) TypeObserver
}

// TypeObserver receives the events of the tasks of one type. The scheduler
// calls its methods with its lock held, so they must return at once and
// must not call back into the scheduler.
type TypeObserver interface {
	// Submitted is called once per task that a submit stored.
	Submitted()

	// Started is called when an attempt is handed to a worker. queueWait
	// is the time from submit to the start of the first attempt; later
	// attempts pass -1.
	Started(queueWait time.Duration)

	// Retried is called when a failed or lost attempt is followed by
	// another one.
	Retried()

	// Finished is called when a task becomes final. runTime is the time
	// from the start of the last attempt to the end, and zero for a task
	// that never started.
	Finished(status Status, runTime time.Duration)
}

// nopObserver is the observer when Config.Observer is nil.
type nopObserver struct{}

func (nopObserver) TypeObserver(string) TypeObserver { return nopObserver{} }
func (nopObserver) Submitted()                       {}
func (nopObserver) Started(time.Duration)            {}
func (nopObserver) Retried()                         {}
func (nopObserver) Finished(Status, time.Duration)   {}

// observerLocked returns the cached observer of the tasks of type typ.
func (s *Scheduler) observerLocked(typ string) TypeObserver {
	ts := s.typeLocked(typ)
	if ts.obs == nil {
		ts.obs = s.cfg.Observer.TypeObserver(typ)
	}
	return ts.obs
}

// observeStartLocked reports the start of t's current attempt.
func (s *Scheduler) observeStartLocked(t *task) {
	wait := time.Duration(-1)
	if t.attempt == 1 {
		wait = t.info().started.Sub(t.created)
	}
	s.observerLocked(t.typ).Started(wait)
}

// observeFinishLocked reports that t became final.
func (s *Scheduler) observeFinishLocked(t *task) {
	var run time.Duration
	if !t.info().started.IsZero() {
		run = t.info().finished.Sub(t.info().started)
	}
	s.observerLocked(t.typ).Finished(t.status, run)
}
