package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/scheduler"
)

const (
	// maxBatch is the largest -batch.
	maxBatch = 100_000

	// maxLineBytes is the longest line of a -f file, the API's default
	// limit on a request body.
	maxLineBytes = api.DefaultMaxBodyBytes

	// waiters is how many tasks submit -f -wait waits for at once.
	waiters = 32
)

// submitOptions are the parsed flags and arguments of lbd submit.
type submitOptions struct {
	clientFlags
	typ         string
	timeout     time.Duration
	maxAttempts int
	key         string
	queue       string
	priority    int
	delay       string // a Go duration, sent as is so the master checks it
	runAt       string // RFC 3339, sent as is
	wait        bool
	payloadFile string
	payloadArg  []string // positional arguments: the payload, or "-" for stdin
	file        string   // -f: a JSON Lines file of tasks, "-" for stdin
	batch       int
}

const submitUsage = `usage: lbd submit -type TYPE [-timeout 30s] [-max-attempts N] [-key KEY] [-queue Q] [-priority N] [-delay 90s | -run-at TIME] [-wait] [PAYLOAD | -payload-file FILE | -]
       lbd submit -f FILE [-batch 1000] [-wait]

Submits one task, or every task of FILE ("-" for standard input), a JSON Lines
file whose lines are objects like the body of POST /v1/tasks:
  {"type": "echo", "payload": "hi", "timeout": "30s", "max_attempts": 3, "key": "k1"}
Blank lines are skipped. The whole file is checked before any task is sent.

Prints the id of each task. With -wait, prints the output of the task, or
with -f one line "<id> <status> <output or error>" per task as it finishes and
a summary. Exit status: 0 ok, 1 a task failed or was canceled, 2 usage error,
3 master unreachable, 4 request rejected by the master.

Flags:`

// runSubmit submits tasks to the master.
func runSubmit(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, code := parseSubmit(args, stderr)
	if code >= 0 {
		return code
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := o.newClient()
	if o.file != "" {
		return submitFile(ctx, c, o, stdin, stdout, stderr)
	}
	return submitSingle(ctx, c, o, stdin, stdout, stderr)
}

// parseSubmit parses the command line. It returns the exit code to stop
// with, or -1 to go on.
func parseSubmit(args []string, stderr io.Writer) (*submitOptions, int) {
	o := &submitOptions{}
	fs := flag.NewFlagSet("lbd submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.clientFlags.register(fs)
	fs.StringVar(&o.typ, "type", "", "task `type`, one that a worker runs")
	fs.DurationVar(&o.timeout, "timeout", 0, "time limit of one attempt, such as 30s; 0 for the master's default")
	fs.IntVar(&o.maxAttempts, "max-attempts", 0, "attempts before the task fails; 0 for the master's default")
	fs.StringVar(&o.key, "key", "", "idempotency `key`: a second submit with the same key returns the first task's id")
	fs.StringVar(&o.queue, "queue", "", "`queue` of the task; the master's default queue \"default\" when empty")
	fs.IntVar(&o.priority, "priority", 0, "priority within the queue, -1000 to 1000; higher runs first")
	fs.StringVar(&o.delay, "delay", "", "run the task no earlier than this `duration` from now, such as 90s")
	fs.StringVar(&o.runAt, "run-at", "", "run the task no earlier than this RFC 3339 `time`, such as 2026-12-05T08:00:00Z")
	fs.BoolVar(&o.wait, "wait", false, "wait until the tasks are final and print their outcome")
	fs.StringVar(&o.payloadFile, "payload-file", "", "read the payload from `file`")
	fs.StringVar(&o.file, "f", "", "submit every task of a JSON Lines `file`, - for standard input")
	fs.IntVar(&o.batch, "batch", 1000, "tasks per request with -f")
	fs.Usage = func() {
		fmt.Fprintln(stderr, submitUsage)
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args); code >= 0 {
		return nil, code
	}
	o.payloadArg = fs.Args()

	if err := o.check(fs); err != nil {
		fmt.Fprintf(stderr, "lbd submit: %v\n", err)
		return nil, exitUsage
	}
	return o, -1
}

// check rejects flags that do not fit together.
func (o *submitOptions) check(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if o.file != "" {
		for _, name := range []string{"type", "timeout", "max-attempts", "key", "payload-file", "queue", "priority", "delay", "run-at"} {
			if set[name] {
				return fmt.Errorf("-%s sets a single task; with -f every line sets its own fields", name)
			}
		}
		if len(o.payloadArg) > 0 {
			return fmt.Errorf("unexpected argument %q: with -f every line carries its own payload", o.payloadArg[0])
		}
		if o.batch < 1 || o.batch > maxBatch {
			return fmt.Errorf("invalid -batch %d: must be between 1 and %d", o.batch, maxBatch)
		}
		return nil
	}

	switch {
	case set["batch"]:
		return errors.New("-batch applies only with -f FILE")
	case o.typ == "":
		return errors.New("missing -type: give the task type, such as -type echo, or -f FILE")
	case o.delay != "" && o.runAt != "":
		return errors.New("-delay and -run-at both set the start time: give one of them")
	case o.timeout < 0:
		return fmt.Errorf("invalid -timeout %s: must be positive, or 0 for the master's default", o.timeout)
	case o.maxAttempts < 0:
		return fmt.Errorf("invalid -max-attempts %d: must be at least 1, or 0 for the master's default", o.maxAttempts)
	case len(o.payloadArg) > 1:
		return fmt.Errorf("%d payload arguments: give one, quoted, or use -payload-file", len(o.payloadArg))
	case len(o.payloadArg) == 1 && o.payloadFile != "":
		return errors.New("both a payload argument and -payload-file: give one")
	}
	return nil
}

// taskRequest builds the request of a single task, reading its payload.
func (o *submitOptions) taskRequest(stdin io.Reader) (api.TaskRequest, error) {
	req := api.TaskRequest{
		Type: o.typ, MaxAttempts: o.maxAttempts, Key: o.key,
		Queue: o.queue, Priority: o.priority, Delay: o.delay, RunAt: o.runAt,
	}
	if o.timeout > 0 {
		req.Timeout = o.timeout.String()
	}

	var payload []byte
	var err error
	switch {
	case o.payloadFile == "-" || len(o.payloadArg) == 1 && o.payloadArg[0] == "-":
		payload, err = io.ReadAll(stdin)
		if err != nil {
			return req, fmt.Errorf("read payload from standard input: %w", err)
		}
	case o.payloadFile != "":
		payload, err = os.ReadFile(o.payloadFile)
		if err != nil {
			return req, fmt.Errorf("read payload: %w", err)
		}
	case len(o.payloadArg) == 1:
		payload = []byte(o.payloadArg[0])
	}
	setPayload(&req, payload)
	return req, nil
}

// setPayload puts payload into req as text when it is valid UTF-8, else as
// base64.
func setPayload(req *api.TaskRequest, payload []byte) {
	if utf8.Valid(payload) {
		req.Payload = string(payload)
		return
	}
	req.PayloadBase64 = base64.StdEncoding.EncodeToString(payload)
}

// submitSingle submits one task and, with -wait, prints its output.
func submitSingle(ctx context.Context, c *client.Client, o *submitOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	req, err := o.taskRequest(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: %v\n", err)
		return exitUsage
	}

	id, err := c.Submit(ctx, req)
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: %v\n", err)
		return exitCodeOf(err)
	}
	if !o.wait {
		return printResult(stdout, stderr, o.json, api.SubmitResponse{ID: id}, id+"\n")
	}

	warnUnserved(ctx, c, []string{req.Type}, stderr)
	task, err := c.Wait(ctx, id)
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: task %s was submitted, but waiting for it failed: %v\n", id, err)
		return exitCodeOf(err)
	}
	return printOutcome(stdout, stderr, o.json, task)
}

// printOutcome prints a final task of submit -wait: its output when it
// succeeded, its error on stderr otherwise, or the whole task with -json.
func printOutcome(stdout, stderr io.Writer, asJSON bool, task api.Task) int {
	code := exitOK
	if task.Status != scheduler.StatusSucceeded {
		code = exitFailure
	}
	if asJSON {
		if printResult(stdout, stderr, true, task, "") != exitOK {
			return exitFailure
		}
		return code
	}

	if code != exitOK {
		fmt.Fprintf(stderr, "lbd submit: task %s %s: %s\n", task.ID, task.Status, task.Error)
		return code
	}
	output, err := task.OutputBytes()
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: task %s: decode output: %v\n", task.ID, err)
		return exitFailure
	}
	if _, err := stdout.Write(output); err != nil {
		fmt.Fprintf(stderr, "lbd submit: write output: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// printResult writes v as a JSON line with -json, else text.
func printResult(stdout, stderr io.Writer, asJSON bool, v any, text string) int {
	var err error
	if asJSON {
		err = json.NewEncoder(stdout).Encode(v)
	} else {
		_, err = io.WriteString(stdout, text)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: write output: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// fileTask is one task of a -f file.
type fileTask struct {
	line int
	req  api.TaskRequest
}

// readTaskFile reads and checks every line of a JSON Lines file of tasks.
// name is the file's name in error messages.
func readTaskFile(name string, r io.Reader) ([]fileTask, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var tasks []fileTask
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		req, err := api.DecodeTask(bytes.NewReader(text), "line")
		if err == nil {
			_, err = req.Spec()
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		tasks = append(tasks, fileTask{line: line, req: req})
	}

	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxLineBytes)
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("%s: no task: every line is blank", name)
	}
	return tasks, nil
}

// openTaskFile reads the tasks of -f, from stdin for "-".
func openTaskFile(path string, stdin io.Reader) ([]fileTask, error) {
	if path == "-" {
		return readTaskFile("stdin", stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTaskFile(path, f)
}

// submitFile submits every task of -f in batches and, with -wait, prints
// each task's outcome as it finishes.
func submitFile(ctx context.Context, c *client.Client, o *submitOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	tasks, err := openTaskFile(o.file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: %v\n", err)
		return exitUsage
	}
	name := o.file
	if name == "-" {
		name = "stdin"
	}

	if o.wait {
		return submitAndWait(ctx, c, o, name, tasks, stdout, stderr)
	}

	code := exitOK
	err = sendBatches(ctx, c, o.batch, name, tasks, func(i int, id string) {
		text := id + "\n"
		out := struct {
			Line int    `json:"line"`
			ID   string `json:"id"`
		}{tasks[i].line, id}
		if printResult(stdout, stderr, o.json, out, text) != exitOK {
			code = exitFailure
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "lbd submit: %v\n", err)
		return exitCodeOf(err)
	}
	return code
}

// sendBatches submits tasks in batches of size batch and calls accepted
// with the index and id of each task that the master accepted. It stops at
// the first batch that fails.
func sendBatches(ctx context.Context, c *client.Client, batch int, name string, tasks []fileTask, accepted func(i int, id string)) error {
	reqs := make([]api.TaskRequest, 0, min(batch, len(tasks)))
	for start := 0; start < len(tasks); start += batch {
		end := min(start+batch, len(tasks))
		reqs = reqs[:0]
		for _, t := range tasks[start:end] {
			reqs = append(reqs, t.req)
		}

		ids, err := c.SubmitBatch(ctx, reqs)
		if err != nil {
			return batchError(name, tasks, start, end, err)
		}
		for i, id := range ids {
			accepted(start+i, id)
		}
	}
	return nil
}

// batchIndex matches the field of an API error about one task of a batch.
var batchIndex = regexp.MustCompile(`^tasks\[(\d+)\]\.?`)

// batchError describes the failure of the batch tasks[start:end]. It points
// to the line at fault when the master named one, and reports how many tasks
// before the batch were submitted.
func batchError(name string, tasks []fileTask, start, end int, err error) error {
	msg := err.Error()
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		if m := batchIndex.FindStringSubmatch(apiErr.Field); m != nil {
			i, convErr := strconv.Atoi(m[1])
			if convErr == nil && start+i < end {
				msg = fmt.Sprintf("%s:%d: %s", name, tasks[start+i].line, strings.TrimPrefix(msg, m[0]))
			}
		}
	}

	done := "no task was submitted"
	if start > 0 {
		done = fmt.Sprintf("the %d tasks before line %d were submitted, the rest were not", start, tasks[start].line)
	}
	return &sendError{msg: msg + "; " + done, err: err}
}

// sendError is a failed submit of a batch with a message that names lines
// of the file. It wraps the client's error for exitCodeOf.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }

func (e *sendError) Unwrap() error { return e.err }

// waitResult is the outcome of waiting for one task.
type waitResult struct {
	id   string
	task api.Task
	err  error
}

// submitAndWait submits the tasks in batches and waits for each accepted
// task, many at once, printing each outcome as it comes. A task that several
// lines name through one key is waited for once.
func submitAndWait(ctx context.Context, c *client.Client, o *submitOptions, name string, tasks []fileTask, stdout, stderr io.Writer) int {
	types := make([]string, len(tasks))
	for i, t := range tasks {
		types[i] = t.req.Type
	}
	warnUnserved(ctx, c, types, stderr)

	ids := make(chan string, len(tasks)) // room for every task, so the submitter never blocks
	results := make(chan waitResult)

	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			for id := range ids {
				task, err := c.Wait(ctx, id)
				results <- waitResult{id: id, task: task, err: err}
			}
		})
	}

	var sendErr error
	go func() {
		seen := make(map[string]bool, len(tasks))
		sendErr = sendBatches(ctx, c, o.batch, name, tasks, func(_ int, id string) {
			if !seen[id] {
				seen[id] = true
				ids <- id
			}
		})
		close(ids)
		wg.Wait()
		close(results)
	}()

	// On a terminal a progress line replaces the line per succeeded task;
	// failures are still printed, above it.
	var sum waitSummary
	var bar *progress
	if !o.json && isTerminal(stdout) {
		bar = newProgress(stdout, len(tasks))
		sum.quiet = true
	}
	for r := range results {
		if bar != nil && (r.err != nil || r.task.Status != scheduler.StatusSucceeded) {
			bar.clear() // the outcome's line takes the bar's place
			bar.drawn = time.Time{}
		}
		sum.add(ctx, r, o.json, stdout, stderr)
		if bar != nil {
			bar.update(sum.succeeded+sum.failed+sum.canceled+sum.unfinished, sum.failed)
		}
	}
	if bar != nil {
		bar.clear()
	}
	// results is closed after sendErr was written.
	return sum.finish(ctx, sendErr, o.json, stdout, stderr)
}

// waitSummary counts the outcomes of submit -f -wait.
type waitSummary struct {
	succeeded, failed, canceled int
	unfinished                  int   // waits that ended with an error
	waitErr                     error // the first such error, other than an interrupt
	quiet                       bool  // print no line for a succeeded task
}

// add prints one outcome and counts it.
func (s *waitSummary) add(ctx context.Context, r waitResult, asJSON bool, stdout, stderr io.Writer) {
	if r.err != nil {
		s.unfinished++
		if ctx.Err() == nil {
			fmt.Fprintf(stderr, "lbd submit: wait for task %s: %v\n", r.id, r.err)
			if s.waitErr == nil {
				s.waitErr = r.err
			}
		}
		return
	}

	switch r.task.Status {
	case scheduler.StatusSucceeded:
		s.succeeded++
	case scheduler.StatusCanceled:
		s.canceled++
	default:
		s.failed++
	}
	if asJSON {
		printResult(stdout, stderr, true, r.task, "")
		return
	}
	if s.quiet && r.task.Status == scheduler.StatusSucceeded {
		return
	}
	fmt.Fprintf(stdout, "%s %s %s\n", r.task.ID, r.task.Status, outcomeText(r.task))
}

// finish prints the summary line and returns the exit code.
func (s *waitSummary) finish(ctx context.Context, sendErr error, asJSON bool, stdout, stderr io.Writer) int {
	line := fmt.Sprintf("%d succeeded, %d failed", s.succeeded, s.failed)
	if s.canceled > 0 {
		line += fmt.Sprintf(", %d canceled", s.canceled)
	}
	if s.unfinished > 0 {
		line += fmt.Sprintf(", %d not known to be finished", s.unfinished)
	}
	summaryOut := stdout
	if asJSON {
		summaryOut = stderr // stdout holds only JSON lines
	}
	fmt.Fprintln(summaryOut, line)

	switch {
	case sendErr != nil:
		fmt.Fprintf(stderr, "lbd submit: %v\n", sendErr)
		return exitCodeOf(sendErr)
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "lbd submit: interrupted; %d tasks keep running on the master\n", s.unfinished)
		return exitFailure
	case s.waitErr != nil:
		return exitCodeOf(s.waitErr)
	case s.failed+s.canceled > 0:
		return exitFailure
	}
	return exitOK
}

// outcomeText returns a final task's output, or its error when it did not
// succeed, on one line: as it is when that is printable text, else quoted.
func outcomeText(task api.Task) string {
	text := task.Error
	if task.Status == scheduler.StatusSucceeded {
		output, err := task.OutputBytes()
		if err != nil {
			return fmt.Sprintf("(undecodable output: %v)", err)
		}
		text = string(output)
	}
	text = strings.TrimRight(text, "\r\n")
	printable := utf8.ValidString(text) && !strings.ContainsFunc(text, func(r rune) bool { return !unicode.IsPrint(r) })
	if !printable {
		return strconv.Quote(text)
	}
	return text
}
