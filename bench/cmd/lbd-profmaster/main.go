// Command lbd-profmaster runs an lbd node like the lbd binary does, taking
// the same flags, and writes a CPU profile of the whole run to the file
// that LBD_BENCH_CPUPROFILE names. lbd-bench uses it to profile the master.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "lbd-profmaster: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	path := os.Getenv("LBD_BENCH_CPUPROFILE")
	if path == "" {
		return fmt.Errorf("LBD_BENCH_CPUPROFILE is not set: name the file for the CPU profile")
	}
	cfg, err := config.Load(os.Args[1:], os.LookupEnv, os.Stderr)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create CPU profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("start CPU profile: %w", err)
	}
	defer pprof.StopCPUProfile()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return daemon.Run(ctx, cfg, daemon.Options{Version: "profiled", Stderr: os.Stderr})
}
