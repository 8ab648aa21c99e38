package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/proc"

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
			Header: []string{"system", "tasks/s median (min–max)", "lbd / system", "CPU per task, median", "system CPU / lbd CPU"},
		}
		results := map[variant]stats.Summary{}
		cpu := map[variant]float64{}
		vs := b.cfg.variants(durable)
		for _, v := range vs {
			var rates, cpus []float64
			for r := range b.cfg.runs {
				rate, perTask, err := b.throughputRun(ctx, v)
				if err != nil {
					return fmt.Errorf("%s run %d: %w", v.label(), r+1, err)
				}
				rates = append(rates, rate)
				cpus = append(cpus, float64(perTask.Microseconds())+float64(perTask%time.Microsecond)/1e3)
			}
			results[v] = stats.Summarize(rates)
			cpu[v] = stats.Summarize(cpus).Median
			b.peak[v] = results[v].Median
		}
		lbd := results[variant{"lbd", durable}].Median
		lbdCPU := cpu[variant{"lbd", durable}]
		for _, v := range vs {
			s := results[v]
			t.Add(v.label(), s.Format(stats.Rate), stats.Ratio(lbd/s.Median),
				fmt.Sprintf("%.1f µs", cpu[v]), stats.Ratio(cpu[v]/lbdCPU))
		}
		t.Print(b.cfg.out)
	}
	if b.cfg.profileDir != "" {
		return b.profileMaster(ctx)
	}
	return nil
}

func (b *bench) throughputRun(ctx context.Context, v variant) (float64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sys, rec, err := b.startSystem(ctx, v, b.cfg.tasks, compareWorkers, compareSlots)
	if err != nil {
		return 0, 0, err
	}
	defer sys.Close()
	before := sampleCPU(sys)
	elapsed, err := b.closedLoop(ctx, sys, rec, b.cfg.tasks)
	if err != nil {
		return 0, 0, err
	}
	used := sampleCPU(sys).since(before)
	rate := float64(b.cfg.tasks) / elapsed.Seconds()
	perTask := used.total() / time.Duration(b.cfg.tasks)
	fmt.Fprintf(os.Stderr, "  %s: %d tasks in %s, %s; CPU %s per task (%s)\n", v.label(), b.cfg.tasks,
		elapsed.Round(time.Millisecond), stats.Rate(rate), perTask.Round(100*time.Nanosecond), used)
	return rate, perTask, nil
}

// cpuSample is the CPU time used so far by the benchmark process and by
// each process of a system, in the order of its Processes.
type cpuSample struct {
	self  time.Duration
	procs []time.Duration
	names []string
}

func sampleCPU(sys systems.System) cpuSample {
	s := cpuSample{self: proc.SelfCPUTime()}
	if ph, ok := sys.(systems.ProcessHolder); ok {
		for _, p := range ph.Processes() {
			t, err := proc.CPUTime(p.Pid())
			if err != nil {
				fmt.Fprintf(os.Stderr, "  warning: %v; CPU per task leaves %s out\n", err, p.Name)
			}
			s.procs = append(s.procs, t)
			s.names = append(s.names, p.Name)
		}
	}
	return s
}

// since returns the CPU time used between start and s. Processes that
// started after start count from zero.
func (s cpuSample) since(start cpuSample) cpuSample {
	d := cpuSample{self: s.self - start.self, names: s.names}
	for i, t := range s.procs {
		if i < len(start.procs) {
			t -= start.procs[i]
		}
		d.procs = append(d.procs, t)
	}
	return d
}

func (s cpuSample) total() time.Duration {
	t := s.self
	for _, p := range s.procs {
		t += p
	}
	return t
}

func (s cpuSample) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "benchmark process %s", s.self.Round(10*time.Millisecond))
	for i, t := range s.procs {
		fmt.Fprintf(&b, ", %s %s", s.names[i], t.Round(10*time.Millisecond))
	}
	return b.String()
}

// latency is workload 2: tasks at half of each system's peak rate (from
// workload 1, or measured here when it did not run), or at -rate for all,
// with submit-to-start and submit-to-result percentiles.
func (b *bench) latency(ctx context.Context) error {
	at := "half of peak rate"
	if b.cfg.latencyRate > 0 {
		at = stats.Rate(b.cfg.latencyRate) + " for every system"
	}
	for _, durable := range []bool{false, true} {
		t := &stats.Table{
			Title: fmt.Sprintf("2. Latency at %s, %s: median of runs (min–max) of each percentile", at, modeName(durable)),
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
	if b.cfg.latencyRate > 0 {
		peak = 2 * b.cfg.latencyRate
	}
	if peak == 0 {
		rate, _, err := b.throughputRun(ctx, v)
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
