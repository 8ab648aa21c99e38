package daemon

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// forwardedSignals are the signals that the init process passes on to the
// lbd process it runs.
var forwardedSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

// RunAsInit runs lbd as the init process of a container, for a process
// whose pid is 1, and returns the exit code for os.Exit.
//
// Orphaned processes, such as the background children of an exec handler
// that exited, are re-parented to pid 1, which must reap them or they stay
// zombies. Reaping with wait4(-1) in the process that also runs exec
// handlers would steal the exit status that os/exec waits for. So pid 1
// starts a copy of itself with the same arguments, which runs the node and
// its handlers as usual, and does nothing but forward signals to that copy
// and reap every child it gets. It started no other child, so no reaped
// status belongs to anyone else. It exits with the copy's exit code, or 128
// plus the signal number when a signal ended the copy.
func RunAsInit(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "lbd: init: find the lbd executable: %v\n", err)
		return 1
	}

	// Subscribe before the start so that no SIGCHLD is missed.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGCHLD}, forwardedSignals...)...)
	defer signal.Stop(sigs)

	attr := &os.ProcAttr{Env: os.Environ(), Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}}
	child, err := os.StartProcess(exe, append([]string{os.Args[0]}, args...), attr)
	if err != nil {
		fmt.Fprintf(stderr, "lbd: init: start %s: %v\n", exe, err)
		return 1
	}
	defer child.Release()

	for {
		if code, exited := reapChildren(child.Pid, stderr); exited {
			return code
		}
		sig := <-sigs
		if sig == syscall.SIGCHLD {
			continue
		}
		// Signal the pid, not the pidfd of child, which fails once the
		// child has been reaped here.
		if err := syscall.Kill(child.Pid, sig.(syscall.Signal)); err != nil && err != syscall.ESRCH {
			fmt.Fprintf(stderr, "lbd: init: forward %v to pid %d: %v\n", sig, child.Pid, err)
		}
	}
}

// reapChildren collects every child that has exited, without blocking. It
// reports whether main was among them and main's exit code.
func reapChildren(main int, stderr io.Writer) (code int, exited bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil && err != syscall.ECHILD {
			fmt.Fprintf(stderr, "lbd: init: wait4: %v\n", err)
		}
		if pid <= 0 {
			return code, exited
		}
		if pid != main {
			continue
		}
		exited = true
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		default:
			code = 1
		}
	}
}
