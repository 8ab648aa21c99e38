package daemon

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// statusInterval is the time between STATUS= updates when the watchdog
// asks for nothing faster.
const statusInterval = 5 * time.Second

// notifier sends the node's state to the service manager with sd_notify.
// Without NOTIFY_SOCKET in the environment every send is a no-op, so the
// same binary runs under systemd, in a container and in a terminal.
type notifier struct {
	log *slog.Logger
}

// send writes one notification, newline-separated assignments such as
// "READY=1\nSTATUS=...". A failure is logged and otherwise ignored because
// the node works without its service manager.
func (nt notifier) send(state string) {
	// unsetEnvironment is false so that later notifications find the socket.
	if _, err := sddaemon.SdNotify(false, state); err != nil {
		nt.log.Warn("sd_notify failed", "state", strings.SplitN(state, "\n", 2)[0], "err", err)
	}
}

// reloading sends RELOADING=1 with MONOTONIC_USEC, which systemd 253 and
// newer require for Type=notify-reload and older versions ignore.
func (nt notifier) reloading() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		nt.send("RELOADING=1\nSTATUS=reloading the configuration")
		return
	}
	usec := ts.Sec*1_000_000 + ts.Nsec/1_000
	nt.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading the configuration", usec))
}

// watchdogInterval returns how often WATCHDOG=1 goes out: half of
// WatchdogSec, or 0 when the service manager set no watchdog for this
// process (WATCHDOG_USEC unset, or WATCHDOG_PID naming another process).
func (nt notifier) watchdogInterval() time.Duration {
	d, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		nt.log.Warn("invalid watchdog settings from the service manager; the watchdog stays off", "err", err)
		return 0
	}
	return d / 2
}

// supervisor sends STATUS= and WATCHDOG=1 from a loop. Each round probes
// the node (the scheduler's and the worker's Stats take their locks), and a
// probe that does not return in time withholds the watchdog ping, so that a
// deadlocked node is restarted by the service manager.
type supervisor struct {
	nt       notifier
	probe    func() string
	interval time.Duration
	watchdog bool

	stop chan struct{}
	done chan struct{}
}

// startSupervisor starts the loop; a node with neither NOTIFY_SOCKET nor a
// watchdog runs it too, at no cost beyond one probe every statusInterval.
func startSupervisor(nt notifier, probe func() string) *supervisor {
	s := &supervisor{nt: nt, probe: probe, interval: statusInterval, stop: make(chan struct{}), done: make(chan struct{})}
	if wd := nt.watchdogInterval(); wd > 0 {
		s.watchdog = true
		s.interval = min(wd, statusInterval)
		nt.log.Info("systemd watchdog enabled", "ping_interval", s.interval)
	}
	go s.run()
	return s
}

func (s *supervisor) run() {
	defer close(s.done)
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()

	var probing sync.Mutex // held while a probe runs; a stuck probe blocks the next round
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
		}
		if !probing.TryLock() {
			s.nt.log.Error("node health probe is still blocked; withholding the watchdog ping")
			continue
		}
		result := make(chan string, 1)
		go func() {
			defer probing.Unlock()
			result <- s.probe()
		}()
		select {
		case status := <-result:
			s.nt.send(s.message(status))
		case <-time.After(s.interval):
			s.nt.log.Error("node health probe timed out; withholding the watchdog ping", "timeout", s.interval)
		case <-s.stop:
			return
		}
	}
}

func (s *supervisor) message(status string) string {
	msg := "STATUS=" + status
	if s.watchdog {
		msg += "\nWATCHDOG=1"
	}
	return msg
}

// close stops the loop and waits for it. A probe that is still blocked is
// left behind because the process exits soon after.
func (s *supervisor) close() {
	close(s.stop)
	<-s.done
}

// statusLine describes the node for STATUS=: its role, the master's workers,
// queue and running tasks, and the worker's connection and slots. It takes
// the scheduler's and the worker's locks.
func (n *Node) statusLine() string {
	var parts []string
	if n.master != nil {
		st := n.master.sched.Stats()
		parts = append(parts, fmt.Sprintf("master: %d workers, %d of %d slots busy, %d queued, %d retrying, %d running",
			st.Workers, st.BusySlots, st.Slots, st.Queued, st.Retrying, st.Running))
	}
	if n.worker != nil {
		st := n.worker.w.Stats()
		conn := "not connected"
		if st.Connected {
			conn = "connected to " + st.Master
		}
		parts = append(parts, fmt.Sprintf("worker: %s, %d of %d slots running, %d succeeded, %d failed",
			conn, st.Running, st.Slots, st.Completed, st.Failed))
	}
	return strings.Join(parts, "; ")
}
