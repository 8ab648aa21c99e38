package worker

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Worker runs tasks that the master assigns over one task connection. Its
// methods are safe to call from any goroutine.
//
// Lock order: Worker.mu, then the wire.Conn's own lock (Send is called with
// Worker.mu held so that results are queued in the order they are decided).
type Worker struct {
	cfg            Config // fixed after New; Slots and Handlers live in the fields below
	log            *slog.Logger
	drainRequested chan struct{}
	drainOnce      sync.Once
	runActive      atomic.Bool

	mu        sync.Mutex // guards the fields below
	slots     int
	handlers  map[string]Handler
	types     []string                // sorted names of handlers
	attempts  map[*attempt]struct{}   // every attempt whose handler has not returned
	byRef     map[attemptKey]*attempt // attempts whose Result is not reported yet
	draining  bool
	session   *session // nil while disconnected
	master    string   // address of the current or last master
	outbox    outbox
	completed uint64
	failed    uint64
	changed   chan struct{} // closed on the next change that waiters watch; nil while no goroutine waits
	runners   runnerPool
}

// Stats is a snapshot of the worker's state.
type Stats struct {
	Slots     int    // population
	Running   int    // attempts whose handler has not returned yet
	Completed uint64 // attempts that succeeded
	Failed    uint64 // attempts that failed, timed out or were canceled; hand-backs are not counted
	Connected bool   // a master welcomed the current connection
	Master    string // task address of the current or last master
}

// New validates cfg and returns a Worker. The error lists every invalid
// field.
func New(cfg Config) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:            cfg,
		log:            cfg.Logger,
		drainRequested: make(chan struct{}),
		slots:          cfg.Slots,
		handlers:       cfg.Handlers,
		types:          sortedTypes(cfg.Handlers),
		attempts:       make(map[*attempt]struct{}),
		byRef:          make(map[attemptKey]*attempt),
		runners:        newRunnerPool(),
	}
	return w, nil
}

// DrainRequested is closed when the master sent wire.Drain, which means an
// operator asked this worker to drain. The daemon then calls Drain and shuts
// down.
func (w *Worker) DrainRequested() <-chan struct{} {
	return w.drainRequested
}

// Stats returns a snapshot of the worker's state.
func (w *Worker) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{
		Slots:     w.slots,
		Running:   len(w.attempts),
		Completed: w.completed,
		Failed:    w.failed,
		Connected: w.session != nil,
		Master:    w.master,
	}
}

// notifyLocked wakes every goroutine in waitFor.
func (w *Worker) notifyLocked() {
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// waitFor blocks until cond, called with w.mu held, returns true, until the
// deadline passes or until done is closed. It returns the last value of cond.
func (w *Worker) waitFor(done <-chan struct{}, deadline time.Time, cond func() bool) bool {
	for {
		w.mu.Lock()
		ok := cond()
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		changed := w.changed
		w.mu.Unlock()
		if ok {
			return true
		}

		remaining := time.Until(deadline)
		if remaining <= 0 {
			return false
		}
		timer := time.NewTimer(remaining)
		select {
		case <-changed:
		case <-timer.C:
		case <-done:
			timer.Stop()
			w.mu.Lock()
			defer w.mu.Unlock()
			return cond()
		}
		timer.Stop()
	}
}
