package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// notifySocket is a unixgram socket in the role of systemd's NOTIFY_SOCKET.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// A short directory keeps the path under the 108-byte sun_path limit.
	dir, err := os.MkdirTemp("", "lbdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &notifySocket{path: filepath.Join(dir, "notify"), msgs: make(chan string, 1024)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", s.path, err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	return s
}

// next returns the next message that contains want, failing the test on
// timeout. seen gets every message read on the way.
func (s *notifySocket) next(t *testing.T, want string, timeout time.Duration, seen *[]string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case msg, ok := <-s.msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %q; got %q", want, *seen)
			}
			*seen = append(*seen, msg)
			if strings.Contains(msg, want) {
				return msg
			}
		case <-deadline:
			t.Fatalf("no notification with %q within %s; got %q", want, timeout, *seen)
		}
	}
}

// masterArgs returns the flags of a master on free loopback ports with an
// in-memory store, and its HTTP address.
func masterArgs(t *testing.T) ([]string, string) {
	httpAddr := "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(t))
	return []string{
		"-role", "master", "-node", "master", "-durability", "none",
		"-bind", "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(t)),
		"-task-addr", "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(t)),
		"-http-addr", httpAddr,
	}, httpAddr
}

func TestNotifyLifecycle(t *testing.T) {
	skipShort(t)
	sock := listenNotify(t)
	args, httpAddr := masterArgs(t)
	env := []string{"NOTIFY_SOCKET=" + sock.path, "WATCHDOG_USEC=400000"}
	p := clustertest.Start(t, "master", env, args...)

	var seen []string
	first := sock.next(t, "=", 15*time.Second, &seen)
	if !strings.HasPrefix(first, "READY=1\n") {
		t.Fatalf("first notification = %q, want READY=1 first", first)
	}
	if !strings.Contains(first, "STATUS=master: 0 workers") {
		t.Errorf("READY notification = %q, want a STATUS= with the master's workers", first)
	}
	if code, err := (&clustertest.API{Addr: httpAddr}).Do("GET", "/healthz", nil, nil); code != 200 {
		t.Errorf("GET /healthz after READY=1 = %d (%v), want 200", code, err)
	}

	// WATCHDOG_USEC=400ms asks for a ping every 200ms.
	ping := sock.next(t, "WATCHDOG=1", 5*time.Second, &seen)
	if !strings.Contains(ping, "STATUS=master: 0 workers, 0 of 0 slots busy, 0 queued") {
		t.Errorf("watchdog notification = %q, want STATUS= with queue depth", ping)
	}

	p.Signal(syscall.SIGHUP)
	reloading := sock.next(t, "RELOADING=1", 5*time.Second, &seen)
	if !strings.Contains(reloading, "MONOTONIC_USEC=") {
		t.Errorf("reload notification = %q, want MONOTONIC_USEC=", reloading)
	}
	sock.next(t, "READY=1", 5*time.Second, &seen)

	p.Signal(syscall.SIGTERM)
	sock.next(t, "STOPPING=1", 10*time.Second, &seen)
	if !p.Wait(15 * time.Second) {
		t.Fatal("master still runs 15s after SIGTERM")
	}
	if code := p.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

func TestNotifyWatchdogOtherPID(t *testing.T) {
	skipShort(t)
	sock := listenNotify(t)
	args, _ := masterArgs(t)
	// WATCHDOG_PID names another process, so the watchdog is not ours.
	env := []string{"NOTIFY_SOCKET=" + sock.path, "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"}
	p := clustertest.Start(t, "master", env, args...)

	var seen []string
	sock.next(t, "READY=1", 15*time.Second, &seen)
	deadline := time.After(1500 * time.Millisecond)
	for {
		select {
		case msg := <-sock.msgs:
			if strings.Contains(msg, "WATCHDOG=1") {
				t.Fatalf("got %q with WATCHDOG_PID=1, want no watchdog ping", msg)
			}
		case <-deadline:
			if strings.Contains(p.Log(), "systemd watchdog enabled") {
				t.Error("log says the watchdog is enabled, want it off for another pid")
			}
			return
		}
	}
}

func TestNotifyPortInUse(t *testing.T) {
	skipShort(t)
	cases := []struct {
		flag   string
		option string
	}{
		{"-bind", "-bind (LBD_BIND, key bind)"},
		{"-task-addr", "-task-addr (LBD_TASK_ADDR, key task_addr)"},
		{"-http-addr", "-http-addr (LBD_HTTP_ADDR, key http_addr)"},
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			addr := taken.Addr().String()

			sock := listenNotify(t)
			args, _ := masterArgs(t)
			args = append(args, tc.flag, addr)
			p := clustertest.Start(t, "master", []string{"NOTIFY_SOCKET=" + sock.path}, args...)
			if !p.Wait(15 * time.Second) {
				t.Fatalf("master with %s %s still runs after 15s, want it to exit at once", tc.flag, addr)
			}
			if code := p.ExitCode(); code == 0 {
				t.Errorf("exit code = 0, want non-zero")
			}
			log := p.Log()
			if !strings.Contains(log, addr+" is already in use") {
				t.Errorf("log does not name the address %s:\n%s", addr, log)
			}
			if !strings.Contains(log, tc.option) {
				t.Errorf("log does not name the option %s:\n%s", tc.option, log)
			}
			// The datagrams were sent before the exit; give the reader a
			// moment to take them off the socket.
			quiet := time.After(300 * time.Millisecond)
			for done := false; !done; {
				select {
				case msg := <-sock.msgs:
					if strings.Contains(msg, "READY=1") {
						t.Errorf("got %q from a node that failed to start, want no READY=1", msg)
					}
				case <-quiet:
					done = true
				}
			}
		})
	}
}

// workerSlots returns the slots the master reports for a worker, -1 when
// the master does not list it.
func workerSlots(t *testing.T, api *clustertest.API, name string) int {
	for _, w := range api.Workers(t) {
		if w.Node == name {
			return w.Slots
		}
	}
	return -1
}

func waitSlots(t *testing.T, api *clustertest.API, name string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := -1
	for time.Now().Before(deadline) {
		if got = workerSlots(t, api, name); got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("worker %s slots = %d after %s, want %d", name, got, timeout, want)
}

func waitLog(t *testing.T, p *clustertest.Proc, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Log(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("log of %s has no %q after %s:\n%s", p.Name, want, timeout, p.Log())
}

func TestReloadOnSIGHUP(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	api := c.API()
	file := filepath.Join(t.TempDir(), "worker.hcl")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("log_level = \"info\"\nworker {\n  population = 2\n  builtins = [\"echo\"]\n}\n")
	w := clustertest.Start(t, "w1", nil, "-role", "worker", "-node", "w1", "-bind", "127.0.0.1:0",
		"-join", c.Gossip, "-config", file)
	waitSlots(t, api, "w1", 2, 15*time.Second)

	ids := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "echo", Payload: "before"}})
	api.WaitFinal(t, ids, 15*time.Second)
	if strings.Contains(w.Log(), "attempt started") {
		t.Fatal("debug line \"attempt started\" logged at log_level info")
	}

	// An invalid file is reported with its position; the worker keeps its
	// configuration and keeps running.
	write("log_level = \"debug\"\nworker {\n  population = \"many\"\n  builtins = [\"echo\"]\n}\n")
	w.Signal(syscall.SIGHUP)
	waitLog(t, w, "reload failed", 10*time.Second)
	if !strings.Contains(w.Log(), file+":3:") {
		t.Errorf("reload error does not name %s:3:\n%s", file, w.Log())
	}
	if got := workerSlots(t, api, "w1"); got != 2 {
		t.Errorf("slots after an invalid reload = %d, want 2", got)
	}
	if code := w.ExitCode(); code != -1 {
		t.Fatalf("worker exited with %d after an invalid reload, want it running", code)
	}

	// A valid file changes the population and the log level, and names the
	// setting that needs a restart.
	write("log_level = \"debug\"\nheartbeat_interval = \"400ms\"\nworker {\n  population = 5\n  builtins = [\"echo\"]\n  queues = { default = 2, low = 1 }\n}\n")
	w.Signal(syscall.SIGHUP)
	waitSlots(t, api, "w1", 5, 10*time.Second)
	waitLog(t, w, "heartbeat_interval changed; restart to apply", 5*time.Second)
	waitLog(t, w, "queues changed; restart to apply", 5*time.Second)
	ids = api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "echo", Payload: "after"}})
	if task := api.WaitFinal(t, ids, 15*time.Second)[0]; task.Status != "succeeded" || task.Output != "after" {
		t.Errorf("task after reload = %s %q, want succeeded \"after\"", task.Status, task.Output)
	}
	waitLog(t, w, "attempt started", 5*time.Second)
}

// initChildren returns the children of pid and how many of them are
// zombies, from /proc.
func initChildren(t *testing.T, pid int) (children []int, zombies int) {
	t.Helper()
	// Each thread lists the children it forked, so all threads are read.
	lists, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	if err != nil || len(lists) == 0 {
		t.Fatalf("list the threads of pid %d: %v", pid, err)
	}
	var fields []string
	for _, list := range lists {
		data, err := os.ReadFile(list)
		if err != nil {
			t.Fatalf("read the children of pid %d: %v", pid, err)
		}
		fields = append(fields, strings.Fields(string(data))...)
	}
	for _, f := range fields {
		child, _ := strconv.Atoi(f)
		children = append(children, child)
		stat, err := os.ReadFile("/proc/" + f + "/stat")
		if err != nil {
			continue // exited and reaped meanwhile
		}
		// The state follows the parenthesized command name.
		if s := string(stat); strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z") {
			zombies++
		}
	}
	return children, zombies
}

func TestInitReapsOrphans(t *testing.T) {
	skipShort(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run lbd as pid 1 of a new pid namespace (unshare --pid)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare from util-linux to run lbd as pid 1")
	}
	args, httpAddr := masterArgs(t)
	args = append([]string{"--pid", "--fork", "--mount-proc", clustertest.Binary(t), "-dev"}, args[4:]...)
	cmd := exec.Command(unshare, args...)
	// Each handler leaves a child behind that its process group's SIGTERM
	// kills after the handler exits, so it becomes an orphaned zombie.
	cmd.Env = append(os.Environ(),
		`LBD_HANDLER_ORPHAN=["sh", "-c", "sleep 30 & cat"]`,
		`LBD_HANDLER_EXIT7=["sh", "-c", "sleep 30 & exit 7"]`)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "lbd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	readLog := func() string { data, _ := os.ReadFile(logFile.Name()); return string(data) }
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", unshare, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	api := &clustertest.API{Addr: httpAddr}
	api.WaitHealthy(t, 15*time.Second)

	var reqs []clustertest.TaskRequest
	for i := range 20 {
		reqs = append(reqs, clustertest.TaskRequest{Type: "orphan", Payload: "p" + strconv.Itoa(i)})
	}
	reqs = append(reqs, clustertest.TaskRequest{Type: "exit7", MaxAttempts: 1})
	tasks := api.WaitFinal(t, api.SubmitBatch(t, reqs), 30*time.Second)
	for i, task := range tasks[:20] {
		if task.Status != "succeeded" || task.Output != "p"+strconv.Itoa(i) {
			t.Errorf("orphan task %d = %s %q (%s), want succeeded %q", i, task.Status, task.Output, task.Error, "p"+strconv.Itoa(i))
		}
	}
	// The exit status belongs to os/exec in the node process; a reaper that
	// stole it would turn this into a wait error.
	if last := tasks[20]; last.Status != "failed" || !strings.Contains(last.Error, "7") {
		t.Errorf("exit7 task = %s %q, want failed with exit status 7", last.Status, last.Error)
	}

	unsharePID := cmd.Process.Pid
	outer, _ := initChildren(t, unsharePID)
	if len(outer) != 1 {
		t.Fatalf("children of unshare = %v, want exactly the namespace's pid 1", outer)
	}
	initPID := outer[0]
	deadline := time.Now().Add(10 * time.Second)
	var children []int
	var zombies int
	for time.Now().Before(deadline) {
		if children, zombies = initChildren(t, initPID); len(children) == 1 && zombies == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if zombies != 0 || len(children) != 1 {
		t.Errorf("pid 1 has %d children (%d zombies), want only the node process", len(children), zombies)
	}

	syscall.Kill(initPID, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("lbd as pid 1 after SIGTERM: %v, want exit 0\n%s", err, readLog())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("lbd as pid 1 still runs 40s after SIGTERM\n%s", readLog())
	}
}
