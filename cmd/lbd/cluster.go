package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
)

// command is the shared set-up of a client command: its flag set with
// -http-addr and -json, and its usage text.
type command struct {
	name string
	fs   *flag.FlagSet
	cf   clientFlags
	out  io.Writer
	err  io.Writer
}

func newCommand(name, usage string, stdout, stderr io.Writer) *command {
	c := &command{name: "lbd " + name, fs: flag.NewFlagSet("lbd "+name, flag.ContinueOnError), out: stdout, err: stderr}
	c.fs.SetOutput(stderr)
	c.cf.register(c.fs)
	c.fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		c.fs.PrintDefaults()
	}
	return c
}

// parse parses args and checks that exactly nargs arguments follow the
// flags. It returns the exit code to stop with, or -1 to go on.
func (c *command) parse(args []string, nargs int, argName string) int {
	if code := parseFlags(c.fs, args); code >= 0 {
		return code
	}
	switch {
	case c.fs.NArg() < nargs:
		fmt.Fprintf(c.err, "%s: missing %s\n", c.name, argName)
		return exitUsage
	case c.fs.NArg() > nargs:
		fmt.Fprintf(c.err, "%s: unexpected argument %q\n", c.name, c.fs.Arg(nargs))
		return exitUsage
	}
	return -1
}

func (c *command) client() *client.Client { return c.cf.newClient() }

// fail prints a request error and returns its exit code.
func (c *command) fail(err error) int {
	fmt.Fprintf(c.err, "%s: %v\n", c.name, err)
	return exitCodeOf(err)
}

// print writes v as JSON with -json, else calls text.
func (c *command) print(v any, text func(io.Writer) error) int {
	var err error
	if c.cf.json {
		err = json.NewEncoder(c.out).Encode(v)
	} else {
		err = text(c.out)
	}
	if err != nil {
		fmt.Fprintf(c.err, "%s: write output: %v\n", c.name, err)
		return exitFailure
	}
	return exitOK
}

// runStatus prints the master's queue gauges and counters.
func runStatus(args []string, stdout, stderr io.Writer) int {
	c := newCommand("status", "usage: lbd status [-http-addr ADDR] [-json]\n\n"+
		"Prints the master's node name, version, queue depth, running tasks, workers, slots and counters.", stdout, stderr)
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	st, err := c.client().Status(context.Background())
	if err != nil {
		return c.fail(err)
	}
	return c.print(st, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "master\t%s (%s)\n", st.Node, st.Version)
		fmt.Fprintf(tw, "queued\t%d (%d bytes)\n", st.Queued, st.QueuedBytes)
		fmt.Fprintf(tw, "retrying\t%d\n", st.Retrying)
		fmt.Fprintf(tw, "running\t%d\n", st.Running)
		fmt.Fprintf(tw, "workers\t%d, %d of %d slots busy\n", st.Workers, st.BusySlots, st.Slots)
		fmt.Fprintf(tw, "finished\t%d succeeded, %d failed, %d canceled\n", st.Succeeded, st.Failed, st.Canceled)
		fmt.Fprintf(tw, "submitted\t%d, %d retries, %d stale results\n", st.Submitted, st.Retried, st.StaleResults)
		return tw.Flush()
	})
}

// runMembers prints the master's gossip view.
func runMembers(args []string, stdout, stderr io.Writer) int {
	c := newCommand("members", "usage: lbd members [-http-addr ADDR] [-json]\n\n"+
		"Lists the nodes in the master's gossip view: name, address, role, state, slots, busy slots and version.", stdout, stderr)
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	members, err := c.client().Members(context.Background())
	if err != nil {
		return c.fail(err)
	}
	return c.print(api.MembersResponse{Members: members}, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tADDR\tROLE\tSTATE\tSLOTS\tBUSY\tVERSION")
		for _, m := range members {
			state := m.State
			if m.Draining {
				state += ", draining"
			}
			if m.Role == "worker" && !m.Connected {
				state += ", no task connection"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", m.Node, m.Addr, m.Role, state, m.Slots, m.Busy, m.Version)
		}
		return tw.Flush()
	})
}

// runDrain asks a worker to drain.
func runDrain(args []string, stdout, stderr io.Writer) int {
	c := newCommand("drain", "usage: lbd drain [-http-addr ADDR] [-json] NODE\n\n"+
		"Asks the worker NODE to drain: it stops taking tasks, lets running tasks finish up to its drain_timeout,\n"+
		"hands back the rest, leaves the cluster and exits.", stdout, stderr)
	if code := c.parse(args, 1, "NODE"); code >= 0 {
		return code
	}
	node := c.fs.Arg(0)
	if err := c.client().Drain(context.Background(), node); err != nil {
		return c.fail(err)
	}
	return c.print(api.DrainResponse{Node: node, Status: "draining"}, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "worker %s is draining\n", node)
		return err
	})
}

// printTaskTable writes tasks as a table with one line per task.
func printTaskTable(w io.Writer, tasks []api.Task) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tATTEMPTS\tWORKER\tCREATED\tERROR")
	for _, t := range tasks {
		worker := t.Worker
		if worker == "" {
			worker = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", t.ID, t.Type, t.Status, t.Attempts, t.MaxAttempts,
			worker, t.Created.Local().Format(time.DateTime), oneLine(t.Error, 80))
	}
	return tw.Flush()
}

// oneLine returns s on one line, cut to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// runClusterCommand runs the client command that args name, when it is one
// of status, members, tasks, task, cancel, retry and drain.
func runClusterCommand(args []string, stdout, stderr io.Writer) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	commands := map[string]func([]string, io.Writer, io.Writer) int{
		"status": runStatus, "members": runMembers, "tasks": runTasks, "task": runTask,
		"cancel": runCancel, "retry": runRetry, "drain": runDrain,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return 0, false
	}
	return cmd(args[1:], stdout, stderr), true
}
