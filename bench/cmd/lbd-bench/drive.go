package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/systems"
)

// variant is one system in one mode.
type variant struct {
	system  string // key in factories
	durable bool
}

func (v variant) label() string {
	mode := "memory"
	if v.durable {
		mode = "durable"
	}
	return v.system + " " + mode
}

var (
	factories = map[string]systems.Factory{
		"lbd":        systems.StartLBD,
		"gearmand":   systems.StartGearman,
		"beanstalkd": systems.StartBeanstalk,
		"jetstream":  systems.StartNATS,
	}
	gearmanVersion   = systems.GearmanVersion
	beanstalkVersion = systems.BeanstalkVersion
	natsVersion      = systems.NATSVersion
)

// variants returns the systems of the memory or durable table; gearmand has
// no durable mode.
func (c *config) variants(durable bool) []variant {
	var out []variant
	for _, s := range c.systems {
		if durable && s == "gearmand" {
			continue
		}
		out = append(out, variant{system: s, durable: durable})
	}
	return out
}

// bench carries measurements between workloads.
type bench struct {
	cfg  *config
	peak map[variant]float64 // median throughput, the base of the latency rate
}

func (b *bench) runWorkload(ctx context.Context, name string) error {
	switch name {
	case "throughput":
		return b.throughput(ctx)
	case "latency":
		return b.latency(ctx)
	case "kill":
		return b.kill(ctx)
	case "newworker":
		return b.newWorker(ctx)
	case "slots":
		return b.slots(ctx)
	case "memory":
		return b.memory(ctx)
	case "restart":
		return b.restart(ctx)
	}
	return fmt.Errorf("unknown workload %q", name)
}

// startSystem starts a fresh v with its own directory and a Recorder for n
// jobs, and starts workers x slots.
func (b *bench) startSystem(ctx context.Context, v variant, n, workers, slots int) (systems.System, *systems.Recorder, error) {
	dir, err := os.MkdirTemp(b.cfg.work, v.system+"-")
	if err != nil {
		return nil, nil, fmt.Errorf("create directory for %s: %w", v.label(), err)
	}
	rec := systems.NewRecorder(n)
	opts := systems.Options{Durable: v.durable, Dir: dir, Rec: rec, LBD: b.cfg.lbd}
	sys, err := factories[v.system](ctx, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start %s: %w", v.label(), err)
	}
	if err := sys.StartWorkers(ctx, workers, slots); err != nil {
		sys.Close()
		return nil, nil, fmt.Errorf("start workers of %s: %w", v.label(), err)
	}
	return sys, rec, nil
}

// openSubmitters opens cfg.clients submitters.
func (b *bench) openSubmitters(ctx context.Context, sys systems.System) ([]systems.Submitter, error) {
	subs := make([]systems.Submitter, 0, b.cfg.clients)
	for range b.cfg.clients {
		s, err := sys.NewSubmitter(ctx)
		if err != nil {
			closeAll(subs)
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, nil
}

func closeAll(subs []systems.Submitter) {
	for _, s := range subs {
		s.Close()
	}
}

// closedLoop submits jobs 0 to n-1 as fast as the submitters go, each
// taking the next batch when its previous one was accepted, and returns the
// time until every result is back.
func (b *bench) closedLoop(ctx context.Context, sys systems.System, rec *systems.Recorder, n int) (time.Duration, error) {
	subs, err := b.openSubmitters(ctx, sys)
	if err != nil {
		return 0, err
	}
	defer closeAll(subs)

	var next atomic.Int64
	errs := make(chan error, len(subs))
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() {
			for {
				first := int(next.Add(int64(b.cfg.batch))) - b.cfg.batch
				if first >= n {
					return
				}
				count := min(b.cfg.batch, n-first)
				rec.Submitted(first, count, time.Now())
				if err := s.Submit(ctx, first, count); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	if err := sys.WaitDone(ctx, n); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// openLoop submits n jobs at rate per second, in batches that a pacer
// releases every millisecond, and waits for every result. Submitters that
// fall behind let batches queue, so a system slower than rate shows it in
// its latency.
func (b *bench) openLoop(ctx context.Context, sys systems.System, rec *systems.Recorder, n int, rate float64) error {
	subs, err := b.openSubmitters(ctx, sys)
	if err != nil {
		return err
	}
	defer closeAll(subs)

	type span struct{ first, count int }
	spans := make(chan span, 1<<16)
	errs := make(chan error, len(subs))
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() {
			for sp := range spans {
				rec.Submitted(sp.first, sp.count, time.Now())
				if err := s.Submit(ctx, sp.first, sp.count); err != nil {
					errs <- err
					return
				}
			}
		})
	}

	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	sent := 0
	for sent < n && ctx.Err() == nil {
		<-tick.C
		due := min(int(rate*time.Since(start).Seconds()), n)
		for sent < due {
			count := min(due-sent, b.cfg.batch)
			spans <- span{sent, count}
			sent += count
		}
	}
	tick.Stop()
	close(spans)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return sys.WaitDone(ctx, n)
}

// profilePath returns where the CPU profile of a variant goes.
func (b *bench) profilePath(v variant) string {
	return filepath.Join(b.cfg.profileDir, "master-"+v.system+"-"+modeName(v.durable)+".pprof")
}
