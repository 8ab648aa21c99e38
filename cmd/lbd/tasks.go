package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/scheduler"
)

// runTasks lists tasks, one page per call.
func runTasks(args []string, stdout, stderr io.Writer) int {
	c := newCommand("tasks", "usage: lbd tasks [-status S] [-type T] [-limit N] [-after ID] [-oldest] [-http-addr ADDR] [-json]\n\n"+
		"Lists tasks, newest first (oldest first with -oldest), one page at a time. When more tasks follow,\n"+
		"the last line names the -after value of the next page.", stdout, stderr)
	var opts client.ListOptions
	c.fs.StringVar(&opts.Status, "status", "", "only tasks in this `state`: queued, running, retrying, succeeded, failed or canceled")
	c.fs.StringVar(&opts.Type, "type", "", "only tasks of this task `type`")
	c.fs.IntVar(&opts.Limit, "limit", api.DefaultListLimit, "tasks per page, 1 to 1000")
	c.fs.StringVar(&opts.After, "after", "", "`id` of the last task of the previous page")
	c.fs.BoolVar(&opts.Oldest, "oldest", false, "list the oldest tasks first")
	if code := c.parse(args, 0, ""); code >= 0 {
		return code
	}
	if opts.Limit < 1 || opts.Limit > scheduler.MaxListLimit {
		fmt.Fprintf(stderr, "lbd tasks: invalid -limit %d: use 1 to %d\n", opts.Limit, scheduler.MaxListLimit)
		return exitUsage
	}

	page, err := c.client().List(context.Background(), opts)
	if err != nil {
		return c.fail(err)
	}
	return c.print(page, func(w io.Writer) error {
		if err := printTaskTable(w, page.Tasks); err != nil {
			return err
		}
		if page.Next != "" {
			_, err := fmt.Fprintf(w, "more: lbd tasks -after %s\n", page.Next)
			return err
		}
		return nil
	})
}

// runTask prints one task, and with -wait waits until it is final. The exit
// code is 1 when a waited-for task failed or was canceled.
func runTask(args []string, stdout, stderr io.Writer) int {
	c := newCommand("task", "usage: lbd task [-wait] [-http-addr ADDR] [-json] ID\n\n"+
		"Prints the task ID: status, attempts, worker, times, and its output or error.\n"+
		"With -wait, waits until the task is final and exits 1 when it failed or was canceled.", stdout, stderr)
	wait := c.fs.Bool("wait", false, "wait until the task is final")
	if code := c.parse(args, 1, "task ID"); code >= 0 {
		return code
	}
	id := c.fs.Arg(0)
	cl := c.client()
	var t api.Task
	var err error
	if *wait {
		t, err = cl.Wait(context.Background(), id)
	} else {
		t, err = cl.Get(context.Background(), id)
	}
	if err != nil {
		return c.fail(err)
	}
	code := c.print(t, func(w io.Writer) error { return printTask(w, t) })
	if code == exitOK && *wait && t.Status != scheduler.StatusSucceeded {
		return exitFailure
	}
	return code
}

func printTask(w io.Writer, t api.Task) error {
	const stamp = "2006-01-02 15:04:05.000"
	fmt.Fprintf(w, "id        %s\ntype      %s\nqueue     %s (priority %d)\nstatus    %s\nattempts  %d of %d (%d failed)\n",
		t.ID, t.Type, t.Queue, t.Priority, t.Status, t.Attempts, t.MaxAttempts, t.Failures)
	if t.Worker != "" {
		fmt.Fprintf(w, "worker    %s\n", t.Worker)
	}
	fmt.Fprintf(w, "created   %s\n", t.Created.Local().Format(stamp))
	if !t.RunAt.IsZero() && (t.Status == scheduler.StatusScheduled || t.Status == scheduler.StatusRetrying) {
		fmt.Fprintf(w, "run at    %s (in %s)\n", t.RunAt.Local().Format(stamp), time.Until(t.RunAt).Round(time.Second))
	}
	if !t.Started.IsZero() {
		fmt.Fprintf(w, "started   %s\n", t.Started.Local().Format(stamp))
	}
	if !t.Finished.IsZero() {
		fmt.Fprintf(w, "finished  %s\n", t.Finished.Local().Format(stamp))
	}
	if t.Error != "" {
		fmt.Fprintf(w, "error     %s\n", t.Error)
	}
	if t.Status == scheduler.StatusSucceeded {
		_, err := fmt.Fprintf(w, "output    %s\n", outcomeText(t))
		return err
	}
	return nil
}

// runCancel cancels a task.
func runCancel(args []string, stdout, stderr io.Writer) int {
	return runTaskOp("cancel", "usage: lbd cancel [-http-addr ADDR] [-json] ID\n\n"+
		"Cancels the task ID: a queued task is dropped, a running one is stopped on its worker.\n"+
		"Exits 4 when the task is already final.", (*client.Client).Cancel, args, stdout, stderr)
}

// runRetry queues a failed task again.
func runRetry(args []string, stdout, stderr io.Writer) int {
	return runTaskOp("retry", "usage: lbd retry [-http-addr ADDR] [-json] ID\n\n"+
		"Queues the failed task ID again with fresh attempts. Exits 4 when the task did not fail.",
		(*client.Client).Retry, args, stdout, stderr)
}

func runTaskOp(name, usage string, op func(*client.Client, context.Context, string) (api.Task, error),
	args []string, stdout, stderr io.Writer,
) int {
	c := newCommand(name, usage, stdout, stderr)
	if code := c.parse(args, 1, "task ID"); code >= 0 {
		return code
	}
	t, err := op(c.client(), context.Background(), c.fs.Arg(0))
	if err != nil {
		return c.fail(err)
	}
	return c.print(t, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "task %s is %s\n", t.ID, t.Status)
		return err
	})
}
