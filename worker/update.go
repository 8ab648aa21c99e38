package worker

import (
	"fmt"

	"github.com/lbd-dev/lbd/wire"
)

// Update changes the population and the handlers at run time, for example on
// a configuration reload. It sends wire.Slots to the master when connected,
// and every later Hello carries the new values. Attempts that already run
// keep their handler. When slots drops below the number of
// running attempts, new assignments are handed back until enough finish.
func (w *Worker) Update(slots int, handlers map[string]Handler) error {
	if err := validateSlots(slots); err != nil {
		return fmt.Errorf("update worker: %w", err)
	}
	if err := validateHandlers(handlers); err != nil {
		return fmt.Errorf("update worker: %w", err)
	}
	handlers = copyHandlers(handlers)
	types := sortedTypes(handlers)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.slots = slots
	w.handlers = handlers
	w.types = types
	w.log.Info("worker updated", "slots", slots, "types", types)

	if s := w.session; s != nil {
		msg := wire.Slots{Slots: slots, Types: append([]string(nil), types...)}
		if err := s.conn.Send(wire.TypeSlots, &msg); err != nil {
			// The connection is broken; the next Hello carries the new values.
			w.log.Warn("send slots to master failed", "master", s.addr, "err", err)
		}
	}
	return nil
}
