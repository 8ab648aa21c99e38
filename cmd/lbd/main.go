// Command lbd is the load-balancing task daemon and its command-line client.
//
//	lbd -role master|worker [flags]   run a node (see lbd -h)
//	lbd -dev                          a master and a local worker, loopback only
//	lbd submit ...                    submit tasks to a master
//	lbd workers                       list the workers a master sees
//	lbd status | members              the master's queue, or its gossip view
//	lbd tasks | task ID [-wait]       list tasks, or show one
//	lbd cancel ID | retry ID          cancel a task, or run a failed one again
//	lbd drain NODE                    ask a worker to drain and exit
//	lbd validate -config FILE         check a configuration file
//	lbd health [-gossip ADDR]         exit 0 when the local node answers
//	lbd keygen                        print a new gossip encryption key
//	lbd tls-ca | tls-cert             create a cluster CA, or a node certificate
//	lbd version                       print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getpid() == 1 {
		// As a container's init, reap orphans in a separate process.
		os.Exit(daemon.RunAsInit(os.Args[1:], os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if code, ok := runClusterCommand(args, stdout, stderr); ok {
		return code
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "submit":
			return runSubmit(args[1:], stdin, stdout, stderr)
		case "workers":
			return runWorkers(args[1:], stdout, stderr)
		case "queue", "queues":
			return runQueueCommand(args, stdout, stderr)
		case "validate":
			return runValidate(args[1:], stdout, stderr)
		case "health":
			return runHealth(args[1:], stdout, stderr)
		case "keygen":
			return runKeygen(args[1:], stdout, stderr)
		case "tls-ca":
			return runTLSCA(args[1:], stdout, stderr)
		case "tls-cert":
			return runTLSCert(args[1:], stdout, stderr)
		case "version":
			fmt.Fprintf(stdout, "lbd %s\n", version)
			return exitOK
		case "help":
			return runDaemon([]string{"-h"}, stderr)
		default:
			fmt.Fprintf(stderr, "lbd: unknown command %q: use submit, workers, status, members, tasks, task, cancel, retry, drain, validate, health, keygen, tls-ca, tls-cert or version, or flags such as -role to run a node (lbd -h)\n", args[0])
			return exitUsage
		}
	}
	return runDaemon(args, stderr)
}

// commandsHelp follows the flags in lbd -h. Each command has its own -h.
const commandsHelp = `
Commands (each takes -h):
  submit     submit one task, or a JSON Lines file of tasks with -f
  workers    the workers connected to the master
  status     the master's queue, workers and counters
  members    the gossip view of the master
  tasks      tasks by status and type, paged
  task       one task, with -wait until it is final
  cancel     cancel a task
  retry      run a failed task again
  drain      ask a worker to drain and leave
  validate   check a configuration file
  health     exit 0 when the node at -http-addr is healthy
  keygen     print a new gossip encryption key
  tls-ca     create a cluster CA for task connection certificates
  tls-cert   issue a node certificate signed by the cluster CA
  version    print the version
`

// runDaemon runs a node until SIGINT or SIGTERM, then stops it in order.
// SIGHUP loads the configuration again from the same args and environment.
func runDaemon(args []string, stderr io.Writer) int {
	cfg, err := config.Load(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, commandsHelp)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbd: invalid configuration:\n%v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	defer signal.Stop(hangup)
	reload := func() (*config.Config, error) { return config.Load(args, os.LookupEnv, io.Discard) }

	opts := daemon.Options{Version: version, Stderr: stderr, Hangup: hangup, Reload: reload}
	if err := daemon.Run(ctx, cfg, opts); err != nil {
		fmt.Fprintf(stderr, "lbd: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// runValidate loads a configuration file the way start-up would and reports
// every problem in it.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbd validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration `file` to check")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbd validate -config FILE\n\nChecks FILE as start-up would and prints every problem with its line and column.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "lbd validate: missing -config FILE")
		return exitUsage
	}
	cfg, err := config.LoadFile(*path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitFailure
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", *path, w)
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return exitOK
}
