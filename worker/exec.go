package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// killGrace is the time between SIGTERM and SIGKILL for a process group.
const killGrace = 3 * time.Second

// pipeCloseDelay bounds how long an exec attempt waits for stdout and stderr
// to reach EOF after the program exited. Processes that the program left in
// the background can hold the pipes open; after this delay they are closed.
const pipeCloseDelay = 500 * time.Millisecond

// stderrTailBytes is how much of the end of stderr an exit error carries.
const stderrTailBytes = 2 << 10

// errOutputTooLarge stops the copy of an exec program's stdout at the cap.
var errOutputTooLarge = errors.New("output exceeds the cap")

type execHandler struct {
	path      string   // absolute or PATH-resolved program
	args      []string // arguments after the program
	dir       string
	env       []string // KEY=value pairs appended to os.Environ()
	maxOutput int64
}

// NewExec returns a handler that runs command[0] with the arguments
// command[1:]; no shell ever parses them or the payload. The payload goes to
// stdin and stdout is the output. A non-zero exit fails the attempt with
// "exit status N: <last 2 KiB of stderr>".
//
// The program runs in its own process group. When ctx is done, the group
// gets SIGTERM and, 3 s later, SIGKILL, which reaches the program's children
// too. When the program exits, processes it left in the group get the same
// treatment. Stdout beyond maxOutput bytes stops the program the same way and
// fails the attempt with "output exceeds max_output_bytes (N bytes)".
//
// dir is the working directory ("" for the current one); env is added to the
// worker's environment. NewExec fails when the program is not found or not
// executable, when dir is not a directory, or when an env key is invalid.
func NewExec(
	command []string, dir string, env map[string]string, maxOutput int64,
) (Handler, error) {
	if len(command) == 0 || command[0] == "" {
		return nil, errors.New("exec handler: empty command: give the program and its arguments")
	}
	if maxOutput < 1 {
		return nil, fmt.Errorf("exec handler for %q: invalid max output %d bytes: must be at least 1",
			command[0], maxOutput)
	}
	if err := checkDir(dir); err != nil {
		return nil, fmt.Errorf("exec handler for %q: %w", command[0], err)
	}
	path, err := resolveProgram(command[0], dir)
	if err != nil {
		return nil, fmt.Errorf("exec handler: %w", err)
	}
	envList, err := envPairs(env)
	if err != nil {
		return nil, fmt.Errorf("exec handler for %q: %w", command[0], err)
	}

	return &execHandler{
		path:      path,
		args:      slices.Clone(command[1:]),
		dir:       dir,
		env:       envList,
		maxOutput: maxOutput,
	}, nil
}

func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("invalid working directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("invalid working directory %q: not a directory", dir)
	}
	return nil
}

// resolveProgram finds name the way the child's exec would: in PATH for a
// bare name, relative to dir for a relative path.
func resolveProgram(name, dir string) (string, error) {
	candidate := name
	if strings.ContainsRune(name, filepath.Separator) && !filepath.IsAbs(name) && dir != "" {
		candidate = filepath.Join(dir, name)
	}
	path, err := exec.LookPath(candidate)
	if err != nil {
		return "", fmt.Errorf("program %q not found or not executable: %w", name, err)
	}
	if !filepath.IsAbs(path) {
		if path, err = filepath.Abs(path); err != nil {
			return "", fmt.Errorf("program %q: %w", name, err)
		}
	}
	return path, nil
}

func envPairs(env map[string]string) ([]string, error) {
	keys := make([]string, 0, len(env))
	for key := range env {
		keys = append(keys, key)
	}
	slices.Sort(keys)

	pairs := make([]string, 0, len(keys))
	for _, key := range keys {
		if key == "" || strings.ContainsAny(key, "=\x00") {
			return nil, fmt.Errorf(
				"invalid environment variable name %q: must be non-empty without '=' or NUL", key)
		}
		if strings.ContainsRune(env[key], 0) {
			return nil, fmt.Errorf("invalid value for environment variable %s: contains a NUL byte", key)
		}
		pairs = append(pairs, key+"="+env[key])
	}
	return pairs, nil
}

// Handle runs the program once.
func (h *execHandler) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	stdout := &cappedBuffer{max: h.maxOutput, onOverflow: func() { cancel(errOutputTooLarge) }}
	stderr := &tailBuffer{max: stderrTailBytes}
	cmd := exec.Command(h.path, h.args...)
	cmd.Dir = h.dir
	cmd.Env = append(os.Environ(), h.env...)
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// Pdeathsig kills the handler if the worker dies (SIGKILL, OOM), so that
	// the master's new attempt does not run beside an orphan.
	// NOTE: the kernel sends it to the direct child only, when the thread
	// that started it exits; grandchildren in the group outlive a dead
	// worker.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = pipeCloseDelay

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", h.path, err)
	}
	group := &processGroup{pgid: cmd.Process.Pid, grace: killGrace}
	stopWatch := context.AfterFunc(ctx, group.terminate)
	waitErr := cmd.Wait()
	stopWatch()
	// The attempt ends with the program; whatever it left behind ends too.
	group.terminate()

	return stdout.buf.Bytes(), h.outcome(ctx, stdout, stderr, waitErr)
}

// outcome turns how the program ended into the attempt's error, or nil.
func (h *execHandler) outcome(
	ctx context.Context, stdout *cappedBuffer, stderr *tailBuffer, waitErr error,
) error {
	if stdout.overflowed {
		return fmt.Errorf("output exceeds max_output_bytes (%d bytes)", h.maxOutput)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("program %s stopped: %w", h.path, context.Cause(ctx))
	}

	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
		return nil
	case errors.Is(waitErr, exec.ErrWaitDelay):
		// The program exited with status 0, and only processes it left
		// behind kept the pipes open. group.terminate has signaled them.
		return nil
	case errors.As(waitErr, &exitErr):
		return exitError(exitErr, stderr.String())
	default:
		return fmt.Errorf("wait for %s: %w", h.path, waitErr)
	}
}

func exitError(exitErr *exec.ExitError, stderrTail string) error {
	status := fmt.Sprintf("exit status %d", exitErr.ExitCode())
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		status = "killed by signal " + ws.Signal().String()
	}
	if stderrTail == "" {
		return errors.New(status + " (stderr was empty)")
	}
	return errors.New(status + ": " + stderrTail)
}
