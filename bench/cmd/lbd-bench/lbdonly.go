package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/proc"
	"github.com/lbd-dev/lbd/bench/internal/stats"
	"github.com/lbd-dev/lbd/bench/internal/systems"
)

// newLBD starts an lbd master without workers.
func (b *bench) newLBD(ctx context.Context, durable bool, n int, masterEnv []string, masterPath string) (*systems.LBD, error) {
	dir, err := os.MkdirTemp(b.cfg.work, "lbd-")
	if err != nil {
		return nil, fmt.Errorf("create lbd data directory: %w", err)
	}
	l, err := systems.NewLBD(systems.Options{Durable: durable, Dir: dir, Rec: systems.NewRecorder(n), LBD: b.cfg.lbd})
	if err != nil {
		return nil, err
	}
	if masterPath != "" {
		l.MasterPath = masterPath
	}
	l.MasterEnv = masterEnv
	if err := l.StartMaster(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// submitMany submits n copies of one task in batches of 1000 from the
// configured number of clients and returns the ids in order.
func (b *bench) submitMany(ctx context.Context, l *systems.LBD, typ, payload string, n int) ([]string, error) {
	const batch = 1000
	ids := make([]string, n)
	body := systems.BatchBody(typ, 0, batch, payload)
	next := make(chan int)
	errs := make(chan error, b.cfg.clients)
	done := make(chan struct{})
	for range b.cfg.clients {
		go func() {
			defer func() { done <- struct{}{} }()
			for first := range next {
				count := min(batch, n-first)
				req := body
				if count != batch {
					req = systems.BatchBody(typ, 0, count, payload)
				}
				got, err := l.SubmitBatch(ctx, req)
				if err != nil {
					errs <- err
					return
				}
				copy(ids[first:], got)
			}
		}()
	}
	var err error
	for first := 0; first < n && err == nil; first += batch {
		select {
		case next <- first:
		case err = <-errs:
		}
	}
	close(next)
	for range b.cfg.clients {
		<-done
	}
	if err != nil {
		return nil, err
	}
	select {
	case err = <-errs:
		return nil, err
	default:
	}
	return ids, nil
}

// firstStart returns the earliest start time among tasks ids, polling
// every millisecond until one has started or timeout passes.
func firstStart(ctx context.Context, l *systems.LBD, ids []string, timeout time.Duration) (time.Time, error) {
	var first time.Time
	err := proc.Poll(timeout, time.Millisecond, func() (bool, error) {
		for _, id := range ids {
			t, err := l.Task(ctx, id)
			if err != nil {
				return false, nil // the master may still be loading
			}
			if !t.Started.IsZero() && (first.IsZero() || t.Started.Before(first)) {
				first = t.Started
			}
		}
		return !first.IsZero(), nil
	})
	return first, err
}

// kill is workload 3: a worker that runs 4 long tasks is killed with
// SIGKILL, or frozen with SIGSTOP (a cut-off worker), and the figure is the
// time until all 4 run on the other worker.
func (b *bench) kill(ctx context.Context) error {
	t := &stats.Table{
		Title:  "3. Killed and cut-off worker: time until its 4 running tasks run on another worker (lbd memory)",
		Header: []string{"signal", "median (min–max)", "goal"},
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		var secs []float64
		for r := range b.cfg.runs {
			d, err := b.killRun(ctx, sig)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", sig, r+1, err)
			}
			secs = append(secs, d.Seconds())
		}
		goal := "200ms"
		if sig == syscall.SIGSTOP {
			goal = "3s"
		}
		t.Add(sig.String(), stats.Summarize(secs).Format(stats.Micros), goal)
	}
	t.Print(b.cfg.out)
	return nil
}

func (b *bench) killRun(ctx context.Context, sig syscall.Signal) (time.Duration, error) {
	const slots = 4
	l, err := b.newLBD(ctx, false, 0, nil, "")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	if err := l.StartWorkers(ctx, 1, slots); err != nil {
		return 0, err
	}
	victim := l.Workers()[0]
	ids, err := b.submitMany(ctx, l, "sleep", "10m", slots)
	if err != nil {
		return 0, err
	}
	err = proc.Poll(30*time.Second, time.Millisecond, func() (bool, error) {
		st, err := l.Status(ctx)
		return err == nil && st.Running == slots, err
	})
	if err != nil {
		return 0, l.Master.Failed("waiting for the victim to run its tasks", err)
	}
	if err := l.StartWorkers(ctx, 1, slots); err != nil {
		return 0, err
	}

	killed := time.Now()
	victim.Signal(sig)
	defer victim.Kill()
	var last time.Time
	err = proc.Poll(30*time.Second, time.Millisecond, func() (bool, error) {
		last = time.Time{}
		for _, id := range ids {
			task, err := l.Task(ctx, id)
			if err != nil {
				return false, err
			}
			if task.Worker == victim.Name || task.Status != "running" || task.Started.Before(killed) {
				return false, nil
			}
			last = task.Started
		}
		return true, nil
	})
	if err != nil {
		return 0, l.Master.Failed("waiting for the tasks to run elsewhere", err)
	}
	d := last.Sub(killed)
	fmt.Fprintf(os.Stderr, "  %s: tasks running elsewhere after %s\n", sig, d)
	return d, nil
}

// newWorker is workload 4: with tasks queued, the time from a worker
// process's start to its first task's start.
func (b *bench) newWorker(ctx context.Context) error {
	var secs []float64
	for r := range b.cfg.runs {
		d, err := b.newWorkerRun(ctx)
		if err != nil {
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		secs = append(secs, d.Seconds())
	}
	t := &stats.Table{
		Title:  "4. New worker: process start to its first task's start, 1,000 tasks queued (lbd memory)",
		Header: []string{"figure", "median (min–max)", "goal"},
	}
	t.Add("worker start to first task", stats.Summarize(secs).Format(stats.Micros), "500ms")
	t.Print(b.cfg.out)
	return nil
}

func (b *bench) newWorkerRun(ctx context.Context) (time.Duration, error) {
	l, err := b.newLBD(ctx, false, 0, nil, "")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	ids, err := b.submitMany(ctx, l, "echo", "x", 1000)
	if err != nil {
		return 0, err
	}
	w, err := l.SpawnWorker(ctx, compareSlots)
	if err != nil {
		return 0, err
	}
	first, err := firstStart(ctx, l, ids[:compareSlots], 30*time.Second)
	if err != nil {
		return 0, w.Failed("waiting for the first task", err)
	}
	d := first.Sub(w.Started)
	fmt.Fprintf(os.Stderr, "  first task %s after the worker's start\n", d)
	return d, nil
}

// slots is workload 5: throughput with 1 slot, 10 slots over 10 workers
// and 1,000 slots over 10 workers.
func (b *bench) slots(ctx context.Context) error {
	shapes := []struct{ workers, slots int }{{1, 1}, {10, 1}, {10, 100}}
	t := &stats.Table{
		Title:  fmt.Sprintf("5. Slots: throughput of %d no-op tasks by total slot count (lbd memory)", b.cfg.slotTasks),
		Header: []string{"slots", "workers x slots", "tasks/s median (min–max)", "vs 10 slots"},
	}
	var base float64
	for _, sh := range shapes {
		var rates []float64
		for r := range b.cfg.runs {
			rate, err := b.slotsRun(ctx, sh.workers, sh.slots)
			if err != nil {
				return fmt.Errorf("%dx%d run %d: %w", sh.workers, sh.slots, r+1, err)
			}
			rates = append(rates, rate)
		}
		s := stats.Summarize(rates)
		if sh.workers*sh.slots == 10 {
			base = s.Median
		}
		vs := "n/a"
		if base > 0 {
			vs = fmt.Sprintf("%+.1f%%", (s.Median/base-1)*100)
		}
		t.Add(fmt.Sprint(sh.workers*sh.slots), fmt.Sprintf("%d x %d", sh.workers, sh.slots), s.Format(stats.Rate), vs)
	}
	t.Print(b.cfg.out)
	return nil
}

func (b *bench) slotsRun(ctx context.Context, workers, slots int) (float64, error) {
	n := b.cfg.slotTasks
	v := variant{system: "lbd"}
	sys, rec, err := b.startSystem(ctx, v, n, workers, slots)
	if err != nil {
		return 0, err
	}
	defer sys.Close()
	elapsed, err := b.closedLoop(ctx, sys, rec, n)
	if err != nil {
		return 0, err
	}
	rate := float64(n) / elapsed.Seconds()
	fmt.Fprintf(os.Stderr, "  %d x %d slots: %s\n", workers, slots, stats.Rate(rate))
	return rate, nil
}

// memory is workload 6: master RSS with cfg.queued queued 100-byte tasks,
// minus the RSS of the same master empty, per task.
func (b *bench) memory(ctx context.Context) error {
	t := &stats.Table{
		Title:  fmt.Sprintf("6. Master memory per queued 100-byte task, %d tasks queued, no workers", b.cfg.queued),
		Header: []string{"durability", "bytes/task median (min–max)", "empty master RSS", "goal"},
	}
	for _, durable := range []bool{false, true} {
		var per, empty []float64
		for r := range b.cfg.longRuns {
			p, e, err := b.memoryRun(ctx, durable)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", modeName(durable), r+1, err)
			}
			per, empty = append(per, p), append(empty, e)
		}
		t.Add(modeName(durable), stats.Summarize(per).Format(func(v float64) string { return fmt.Sprintf("%.0f B", v) }),
			stats.Summarize(empty).Format(func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }), "< 300 B")
	}
	t.Print(b.cfg.out)
	return nil
}

func (b *bench) memoryRun(ctx context.Context, durable bool) (perTask, empty float64, err error) {
	l, err := b.newLBD(ctx, durable, 0, nil, "")
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	time.Sleep(time.Second) // let start-up garbage settle before the baseline
	base, err := proc.RSS(l.Master.Pid())
	if err != nil {
		return 0, 0, err
	}
	if _, err := b.submitMany(ctx, l, "echo", strings.Repeat("m", systems.PayloadSize), b.cfg.queued); err != nil {
		return 0, 0, err
	}
	time.Sleep(2 * time.Second)
	full, err := proc.RSS(l.Master.Pid())
	if err != nil {
		return 0, 0, err
	}
	perTask = float64(full-base) / float64(b.cfg.queued)
	fmt.Fprintf(os.Stderr, "  %s: RSS %d MiB empty, %d MiB full, %.0f B/task\n", modeName(durable), base>>20, full>>20, perTask)
	return perTask, float64(base), nil
}

// restart is workload 7: a durable master with cfg.queued queued tasks is
// killed with SIGKILL and started again; a worker starts as soon as the new
// master's gossip port accepts connections. The figure is the time from the
// new master process's start until GET /v1/status, polled every
// millisecond, counts a running or finished task.
func (b *bench) restart(ctx context.Context) error {
	l, err := b.newLBD(ctx, true, 0, nil, "")
	if err != nil {
		return err
	}
	defer l.Close()
	if _, err := b.submitMany(ctx, l, "echo", strings.Repeat("r", systems.PayloadSize), b.cfg.queued); err != nil {
		return err
	}
	var secs, loads []float64
	for r := range b.cfg.longRuns {
		for _, w := range l.Workers() {
			w.Kill()
		}
		l.Master.Kill()
		m, err := l.SpawnMaster(ctx)
		if err != nil {
			return err
		}
		if err := proc.WaitListening(m, l.Gossip, 2*time.Minute); err != nil {
			return err
		}
		listening := time.Since(m.Started)
		if _, err := l.SpawnWorker(ctx, compareSlots); err != nil {
			return err
		}
		err = proc.Poll(2*time.Minute, time.Millisecond, func() (bool, error) {
			st, err := l.Status(ctx)
			return err == nil && st.Running+int(st.Succeeded) > 0, nil
		})
		if err != nil {
			return m.Failed(fmt.Sprintf("run %d: waiting for the first task", r+1), err)
		}
		d := time.Since(m.Started)
		fmt.Fprintf(os.Stderr, "  restart %d: gossip port open after %s, first task after %s\n", r+1, listening, d)
		secs, loads = append(secs, d.Seconds()), append(loads, listening.Seconds())
	}
	t := &stats.Table{
		Title:  fmt.Sprintf("7. Master restart (SIGKILL) with %d queued tasks, durable", b.cfg.queued),
		Header: []string{"figure", "median (min–max)", "goal"},
	}
	t.Add("master start to gossip port open (store loaded)", stats.Summarize(loads).Format(stats.Micros), "")
	t.Add("master start to first task assigned", stats.Summarize(secs).Format(stats.Micros), "5s")
	t.Print(b.cfg.out)
	return nil
}

// profileMaster runs workload 1 once more for lbd in each mode with the
// master under a CPU profile, and writes go tool pprof -top next to it.
func (b *bench) profileMaster(ctx context.Context) error {
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil {
		return fmt.Errorf("create profile directory: %w", err)
	}
	for _, durable := range []bool{false, true} {
		v := variant{system: "lbd", durable: durable}
		path, err := filepath.Abs(b.profilePath(v))
		if err != nil {
			return err
		}
		l, err := b.newLBD(ctx, durable, b.cfg.tasks, []string{"LBD_BENCH_CPUPROFILE=" + path}, b.cfg.profLBD)
		if err != nil {
			return err
		}
		rec := systems.NewRecorder(b.cfg.tasks)
		profiles := []string{path}
		l.WorkerPath = b.cfg.profLBD
		l.WorkerEnv = func(node string) []string {
			p := filepath.Join(filepath.Dir(path), node+"-"+modeName(durable)+".pprof")
			profiles = append(profiles, p)
			return []string{"LBD_BENCH_CPUPROFILE=" + p}
		}
		if err := l.StartWorkers(ctx, compareWorkers, compareSlots); err != nil {
			l.Close()
			return err
		}
		_, err = b.closedLoop(ctx, l, rec, b.cfg.tasks)
		// SIGTERM: each profile is written when its process exits.
		for _, w := range l.Workers() {
			w.Stop(30 * time.Second)
		}
		l.Master.Stop(30 * time.Second)
		l.Close()
		if err != nil {
			return err
		}
		for _, p := range profiles {
			if err := writeTop(ctx, p); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  CPU profile (%s): %s\n", modeName(durable), p)
		}
	}
	return nil
}

// writeTop writes go tool pprof -top of the profile at path next to it.
func writeTop(ctx context.Context, path string) error {
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof -top %s: %w\n%s", path, err, top)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".pprof")+".top.txt", top, 0o644); err != nil {
		return fmt.Errorf("write pprof -top output: %w", err)
	}
	return nil
}
