// Command lbd-bench measures lbd against gearmand, beanstalkd and NATS
// JetStream on loopback and prints Markdown tables with lbd's ratio to each.
//
//	go run ./cmd/lbd-bench [-quick] [-only throughput,latency,...] [-runs N]
//
// lbd runs as real processes of a binary that lbd-bench builds from the
// parent module; gearmand and beanstalkd run as processes of their Debian
// packages; NATS JetStream runs embedded in this process.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"github.com/lbd-dev/lbd/bench/internal/systems"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// workloadNames lists the workloads in the order they run.
var workloadNames = []string{"throughput", "latency", "kill", "newworker", "slots", "memory", "restart"}

// config is what one run of lbd-bench measures.
type config struct {
	quick       bool
	runs        int     // runs per figure for the short workloads
	longRuns    int     // runs per figure for the long ones (memory, restart)
	tasks       int     // workload 1
	batch       int     // tasks per submit request
	latencyRate float64 // tasks/s of the latency workload; 0: half of each peak
	clients     int     // concurrent submitters
	latencyDur  time.Duration
	latencyMax  int // cap on the tasks of one latency run
	slotTasks   int // workload 5
	queued      int // workloads 6 and 7
	systems     []string
	profileDir  string // "" for no CPU profile
	transport   string // lbd's task connections, for the header

	lbd     string // lbd binary
	profLBD string // profiling master binary
	work    string // scratch directory
	out     io.Writer
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "lbd-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	cfg, only, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg.work, err = os.MkdirTemp("", "lbd-bench-")
	if err != nil {
		return fmt.Errorf("create scratch directory: %w", err)
	}
	defer os.RemoveAll(cfg.work)
	if err := buildBinaries(ctx, cfg); err != nil {
		return err
	}
	printHeader(cfg)

	b := &bench{cfg: cfg}
	for _, name := range workloadNames {
		if !slices.Contains(only, name) {
			continue
		}
		start := time.Now()
		fmt.Fprintf(os.Stderr, "lbd-bench: %s...\n", name)
		if err := b.runWorkload(ctx, name); err != nil {
			return fmt.Errorf("workload %s: %w", name, err)
		}
		fmt.Fprintf(os.Stderr, "lbd-bench: %s done in %s\n", name, time.Since(start).Round(time.Second))
	}
	return nil
}

func parseFlags(args []string, out io.Writer) (*config, []string, error) {
	fs := flag.NewFlagSet("lbd-bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "smaller counts, so that every workload fits in about 10 minutes on 2 cores")
	onlyFlag := fs.String("only", strings.Join(workloadNames, ","), "comma-separated workloads to run: "+strings.Join(workloadNames, ", "))
	systemsFlag := fs.String("systems", "lbd,gearmand,beanstalkd,jetstream", "comma-separated systems for the throughput and latency tables")
	runs := fs.Int("runs", 0, "runs per figure (0: 5 for short workloads, 3 for long ones; 3 and 3 with -quick)")
	tasks := fs.Int("tasks", 0, "tasks of the throughput workload (0: 100000, or 20000 with -quick)")
	profile := fs.String("cpuprofile", "", "directory for CPU profiles of the lbd master and workers under the throughput workload, and their pprof -top output")
	encrypt := fs.Bool("encrypt", false, "run lbd with a gossip key, so gossip is encrypted and task connections authenticated")
	useTLS := fs.Bool("tls", false, "run lbd with a gossip key and task_encryption, so task connections run over TLS 1.3 bound to the key")
	rate := fs.Float64("rate", 0, "tasks per second for the latency workload, the same for every system (0: half of each system's own peak)")
	queues := fs.Int("queues", 0, "spread lbd's tasks over this many queues that every worker serves (0: the default queue only)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q: lbd-bench takes flags only (-h lists them)", fs.Arg(0))
	}

	cfg := &config{
		quick: *quick, runs: 5, longRuns: 3, tasks: 100_000, batch: 250, clients: 16,
		latencyDur: 5 * time.Second, latencyMax: 50_000, slotTasks: 20_000, queued: 1_000_000,
		profileDir: *profile, out: out,
	}
	if cfg.quick {
		cfg.runs, cfg.tasks, cfg.latencyDur, cfg.latencyMax = 3, 20_000, 2*time.Second, 10_000
		cfg.slotTasks, cfg.queued = 5_000, 100_000
	}
	if *encrypt || *useTLS {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, nil, err
		}
		systems.NodeEnv = append(systems.NodeEnv, "LBD_ENCRYPT="+base64.StdEncoding.EncodeToString(key))
	}
	cfg.transport = "plain TCP"
	switch {
	case *useTLS:
		systems.NodeEnv = append(systems.NodeEnv, "LBD_TASK_ENCRYPTION=true")
		cfg.transport = "TLS 1.3 authenticated by the gossip key (task_encryption)"
	case *encrypt:
		cfg.transport = "plain TCP authenticated by the gossip key"
	}
	if *queues < 0 || *queues > 1000 {
		return nil, nil, fmt.Errorf("invalid -queues %d: must be 0 to 1000", *queues)
	}
	systems.Queues = *queues
	if *rate < 0 {
		return nil, nil, fmt.Errorf("invalid -rate %g: must be positive, or 0 for half of each system's peak", *rate)
	}
	cfg.latencyRate = *rate
	if *runs < 0 || *tasks < 0 {
		return nil, nil, fmt.Errorf("invalid -runs %d or -tasks %d: both must be positive (0 selects the default)", *runs, *tasks)
	}
	if *runs > 0 {
		cfg.runs, cfg.longRuns = *runs, *runs
	}
	if *tasks > 0 {
		cfg.tasks = *tasks
	}

	only := splitList(*onlyFlag)
	for _, w := range only {
		if !slices.Contains(workloadNames, w) {
			return nil, nil, fmt.Errorf("invalid -only workload %q: use %s", w, strings.Join(workloadNames, ", "))
		}
	}
	cfg.systems = splitList(*systemsFlag)
	for _, s := range cfg.systems {
		if _, ok := factories[s]; !ok {
			return nil, nil, fmt.Errorf("invalid -systems entry %q: use lbd, gearmand, beanstalkd or jetstream", s)
		}
	}
	if !slices.Contains(cfg.systems, "lbd") {
		return nil, nil, errors.New("invalid -systems: lbd must be in the list, every table compares against it")
	}
	return cfg, only, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// buildBinaries builds the lbd binary from the parent module, and the
// profiling master when profiles are requested.
func buildBinaries(ctx context.Context, cfg *config) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	benchDir := filepath.Dir(strings.TrimSpace(string(gomod)))
	if filepath.Base(benchDir) != "bench" {
		return fmt.Errorf("run lbd-bench inside the bench module of the lbd tree, not in %s", benchDir)
	}
	cfg.lbd = filepath.Join(cfg.work, "lbd")
	if err := goBuild(ctx, filepath.Dir(benchDir), cfg.lbd, "./cmd/lbd"); err != nil {
		return err
	}
	if cfg.profileDir != "" {
		cfg.profLBD = filepath.Join(cfg.work, "lbd-profmaster")
		if err := goBuild(ctx, benchDir, cfg.profLBD, "./cmd/lbd-profmaster"); err != nil {
			return err
		}
	}
	return nil
}

func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, dir, err, msg)
	}
	return nil
}

func printHeader(cfg *config) {
	w := cfg.out
	fmt.Fprintf(w, "## lbd-bench results\n\n")
	fmt.Fprintf(w, "- machine: %d cores (runtime.NumCPU), %s, %s/%s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "- lbd: %s, built with %s; task connections: %s\n", lbdVersion(cfg.lbd), runtime.Version(), cfg.transport)
	fmt.Fprintf(w, "- gearmand: %s\n", gearmanVersion())
	fmt.Fprintf(w, "- beanstalkd: %s\n", beanstalkVersion())
	fmt.Fprintf(w, "- NATS: %s\n", natsVersion())
	mode := "full"
	if cfg.quick {
		mode = "quick"
	}
	fmt.Fprintf(w, "- mode: %s; %d runs per short figure, %d per long one; payload 100 bytes; %d submitters, %d tasks per submit request\n",
		mode, cfg.runs, cfg.longRuns, cfg.clients, cfg.batch)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func lbdVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "unknown"
	}
	v := strings.TrimSpace(string(out))
	if rev, err := exec.Command("git", "-C", "..", "describe", "--always", "--dirty").Output(); err == nil {
		v += " (tree " + strings.TrimSpace(string(rev)) + ")"
	}
	return v
}
