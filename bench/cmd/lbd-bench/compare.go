package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/stats"
	"github.com/lbd-dev/lbd/bench/internal/systems"
)

// Every system in the comparison gets the same shape of cluster.
const (
	compareWorkers = 2
	compareSlots   = 64
)

func modeName(durable bool) string {
	if durable {
		return "durable"
	}
	return "memory"
}

// throughput is workload 1: cfg.tasks no-op tasks from 16 submitters to 2
// workers of 64 slots, until every result is back; memory table, then
// durable table.
func (b *bench) throughput(ctx context.Context) error {
	b.peak = map[variant]float64{}
	for _, durable := range []bool{false, true} {
		t := &stats.Table{
			Title:  fmt.Sprintf("1. Throughput, %s: %d no-op tasks, 2 workers x 64 slots, tasks/s", modeName(durable), b.cfg.tasks),
			Header: []string{"system", "tasks/s median (min–max)", "lbd / system"},
		}
		results := map[variant]stats.Summary{}
		vs := b.cfg.variants(durable)
		for _, v := range vs {
			var rates []float64
			for r := range b.cfg.runs {
				rate, err := b.throughputRun(ctx, v)
				if err != nil {
					return fmt.Errorf("%s run %d: %w", v.label(), r+1, err)
				}
				rates = append(rates, rate)
			}
			results[v] = stats.Summarize(rates)
			b.peak[v] = results[v].Median
		}
		lbd := results[variant{"lbd", durable}].Median
		for _, v := range vs {
			s := results[v]
			t.Add(v.label(), s.Format(stats.Rate), stats.Ratio(lbd/s.Median))
		}
		t.Print(b.cfg.out)
	}
	if b.cfg.profileDir != "" {
		return b.profileMaster(ctx)
	}
	return nil
}

func (b *bench) throughputRun(ctx context.Context, v variant) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sys, rec, err := b.startSystem(ctx, v, b.cfg.tasks, compareWorkers, compareSlots)
	if err != nil {
		return 0, err
	}
	defer sys.Close()
	elapsed, err := b.closedLoop(ctx, sys, rec, b.cfg.tasks)
	if err != nil {
		return 0, err
	}
	rate := float64(b.cfg.tasks) / elapsed.Seconds()
	fmt.Fprintf(os.Stderr, "  %s: %d tasks in %s, %s\n", v.label(), b.cfg.tasks, elapsed.Round(time.Millisecond), stats.Rate(rate))
	return rate, nil
}

// latency is workload 2: tasks at half of each system's peak rate (from
// workload 1, or measured here when it did not run), with submit-to-start
// and submit-to-result percentiles.
func (b *bench) latency(ctx context.Context) error {
	for _, durable := range []bool{false, true} {
		t := &stats.Table{
			Title: fmt.Sprintf("2. Latency at half of peak rate, %s: median of runs (min–max) of each percentile", modeName(durable)),
			Header: []string{"system", "rate", "tasks/run",
				"start p50", "start p99", "start p99.9",
				"result p50", "result p99", "result p99.9", "lbd start p99 / system"},
		}
		vs := b.cfg.variants(durable)
		p99 := map[variant]float64{}
		var rows [][]string
		for _, v := range vs {
			row, startP99, err := b.latencyVariant(ctx, v)
			if err != nil {
				return err
			}
			p99[v] = startP99
			rows = append(rows, row)
		}
		lbd := p99[variant{"lbd", durable}]
		for i, v := range vs {
			t.Add(append(rows[i], stats.Ratio(lbd/p99[v]))...)
		}
		t.Print(b.cfg.out)
	}
	return nil
}

var percentiles = []float64{50, 99, 99.9}

func (b *bench) latencyVariant(ctx context.Context, v variant) ([]string, float64, error) {
	peak := b.peak[v]
	if peak == 0 {
		rate, err := b.throughputRun(ctx, v)
		if err != nil {
			return nil, 0, fmt.Errorf("%s peak: %w", v.label(), err)
		}
		peak = rate
	}
	rate := peak / 2
	n := min(int(rate*b.cfg.latencyDur.Seconds()), b.cfg.latencyMax)
	n = max(n, 100)

	cols := make([][]float64, 2*len(percentiles)) // seconds
	for r := range b.cfg.runs {
		toStart, toFinish, err := b.latencyRun(ctx, v, n, rate)
		if err != nil {
			return nil, 0, fmt.Errorf("%s run %d: %w", v.label(), r+1, err)
		}
		for j, p := range percentiles {
			cols[j] = append(cols[j], stats.Percentile(toStart, p).Seconds())
			cols[len(percentiles)+j] = append(cols[len(percentiles)+j], stats.Percentile(toFinish, p).Seconds())
		}
	}
	row := []string{v.label(), stats.Rate(rate), fmt.Sprint(n)}
	for _, c := range cols {
		row = append(row, stats.Summarize(c).Format(stats.Micros))
	}
	return row, stats.Summarize(cols[1]).Median, nil
}

func (b *bench) latencyRun(ctx context.Context, v variant, n int, rate float64) (toStart, toFinish []time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sys, rec, err := b.startSystem(ctx, v, n, compareWorkers, compareSlots)
	if err != nil {
		return nil, nil, err
	}
	defer sys.Close()
	if err := b.openLoop(ctx, sys, rec, n, rate); err != nil {
		return nil, nil, err
	}
	if f, ok := sys.(systems.TimeFetcher); ok {
		if err := f.FetchTimes(ctx, 0, n); err != nil {
			return nil, nil, err
		}
	}
	toStart, toFinish = rec.Latencies(0, n)
	if len(toStart) < n {
		return nil, nil, fmt.Errorf("%d of %d tasks have all three times", len(toStart), n)
	}
	fmt.Fprintf(os.Stderr, "  %s: %d tasks at %s, start p50 %s p99 %s\n", v.label(), n, stats.Rate(rate),
		stats.Percentile(toStart, 50), stats.Percentile(toStart, 99))
	return toStart, toFinish, nil
}
