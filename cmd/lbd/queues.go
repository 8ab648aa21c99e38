package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lbd-dev/lbd/api"
)

// runQueueCommand runs `lbd queues` and `lbd queue pause|resume|purge NAME`.
func runQueueCommand(args []string, stdout, stderr io.Writer) int {
	if args[0] == "queues" {
		return runQueues(args[1:], stdout, stderr)
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, "lbd queue: missing action: use lbd queue pause|resume|purge NAME")
		return exitUsage
	}
	switch args[1] {
	case "pause", "resume", "purge":
		return runQueueAction(args[1], args[2:], stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprintln(stderr, queueUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "lbd queue: unknown action %q: use pause, resume or purge\n", args[1])
	return exitUsage
}

const queueUsage = `usage: lbd queue pause|resume|purge [-http-addr ADDR] [-json] [-yes] NAME

pause stops handing out the tasks of queue NAME; running tasks go on and
submits are still accepted. The pause lasts until resume, and a master with
durability "fsync" keeps it across restarts. resume hands them out again. purge cancels every
queued, scheduled and retrying task of the queue, which cannot be undone, so
it needs -yes.`

// runQueueAction pauses, resumes or purges one queue.
func runQueueAction(action string, args []string, stdout, stderr io.Writer) int {
	c := newCommand("queue "+action, queueUsage, stdout, stderr)
	yes := false
	if action == "purge" {
		c.fs.BoolVar(&yes, "yes", false, "confirm the purge, which cannot be undone")
	}
	if code := c.parse(args, 1, "queue name"); code >= 0 {
		return code
	}
	name := c.fs.Arg(0)
	if action == "purge" && !yes {
		fmt.Fprintf(stderr, "lbd queue purge: purging cancels every waiting task of queue %q and cannot be undone: add -yes\n", name)
		return exitUsage
	}

	ctx := context.Background()
	out := api.QueueActionResponse{Queue: name}
	var err error
	switch action {
	case "pause":
		err = c.client().PauseQueue(ctx, name)
		out.Paused = true
	case "resume":
		err = c.client().ResumeQueue(ctx, name)
	case "purge":
		out.Purged, err = c.client().PurgeQueue(ctx, name)
	}
	if err != nil {
		return c.fail(err)
	}
	return c.print(out, func(w io.Writer) error {
		var err error
		switch action {
		case "pause":
			_, err = fmt.Fprintf(w, "queue %s paused\n", name)
		case "resume":
			_, err = fmt.Fprintf(w, "queue %s resumed\n", name)
		case "purge":
			_, err = fmt.Fprintf(w, "queue %s purged: %d tasks canceled\n", name, out.Purged)
		}
		return err
	})
}

// runQueues lists the master's queues.
func runQueues(args []string, stdout, stderr io.Writer) int {
	c := newCommand("queues", "usage: lbd queues [-http-addr ADDR] [-json]\n\n"+
		"Lists the master's queues: queued, delayed (scheduled or retrying) and running tasks, "+
		"waiting payload bytes, and whether the queue is paused.", stdout, stderr)
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	qs, err := c.client().Queues(context.Background())
	if err != nil {
		return c.fail(err)
	}
	return c.print(api.QueuesResponse{Queues: qs}, func(w io.Writer) error { return printQueues(w, qs) })
}

// printQueues writes the queues as a table. A paused queue's name is
// followed by "(paused)".
func printQueues(w io.Writer, qs []api.Queue) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tQUEUED\tDELAYED\tRUNNING\tBYTES")
	for _, q := range qs {
		name := q.Name
		if q.Paused {
			name += " (paused)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", name, q.Queued, q.Delayed, q.Running, q.Bytes)
	}
	return tw.Flush()
}
