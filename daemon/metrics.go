package daemon

import (
	"context"
	"log/slog"
	"sort"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/membership"
	"github.com/lbd-dev/lbd/metrics"
	"github.com/lbd-dev/lbd/scheduler"
	"github.com/lbd-dev/lbd/store"
)

// newMasterMetrics creates the master's metrics. The sources are read at
// scrape time through m, whose parts exist by then.
func newMasterMetrics(m *master) *metrics.Master {
	src := metrics.MasterSources{
		Stats:   func() scheduler.Stats { return m.sched.Stats() },
		Workers: func() []scheduler.Worker { return m.sched.Workers() },
		Members: func() map[string]int { return memberCounts(m.members) },
		Queues:  func() []scheduler.Queue { return m.sched.Queues() },
	}
	if bolt, ok := m.store.(*store.Bolt); ok {
		src.Store = bolt.Stats
	}
	return metrics.NewMaster(src)
}

// gossipLogger returns the logger for the gossip layer, which counts each
// error line it logs with count.
func gossipLogger(log *slog.Logger, count func()) *slog.Logger {
	return slog.New(metrics.CountErrors(log.Handler(), count))
}

// memberCounts returns the number of gossip members by state; nil before
// gossip started.
func memberCounts(ms *membership.Membership) map[string]int {
	if ms == nil {
		return nil
	}
	counts := map[string]int{}
	for _, mem := range ms.Members() {
		counts[mem.State]++
	}
	return counts
}

// runHistory samples the scheduler for the status page until the master
// stops.
func (m *master) runHistory() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-m.quit; cancel() }()
	m.history.Run(ctx)
}

// clusterView gives the API the master's gossip view and task connections.
type clusterView struct {
	members *membership.Membership
	tasks   *taskServer
}

func (v clusterView) Members() []api.Member {
	members := v.members.Members()
	out := make([]api.Member, 0, len(members))
	for _, mem := range members {
		if mem.Foreign {
			continue
		}
		types := append([]string(nil), mem.Meta.Types...)
		sort.Strings(types)
		out = append(out, api.Member{
			Node:    mem.Name,
			Addr:    mem.Addr,
			Role:    mem.Meta.Role,
			State:   mem.State,
			Version: mem.Meta.Version,
			Slots:   mem.Meta.Slots,
			Types:   types,
		})
	}
	return out
}

func (v clusterView) Drain(node string) bool {
	return v.tasks.sendDrain(node, "drain requested through the master's API")
}
