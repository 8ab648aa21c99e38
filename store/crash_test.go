//go:build linux

package store

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crashDirEnv makes the test binary run crashChild instead of the tests.
const crashDirEnv = "LBD_STORE_CRASH_DIR"

// TestCrashChildProcess is the child side of TestCrashKeepsAcknowledgedWrites.
// It runs only when the parent sets crashDirEnv.
func TestCrashChildProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child process of TestCrashKeepsAcknowledgedWrites")
	}
	crashChild(dir, os.Getenv("LBD_STORE_CRASH_PREFIX"))
}

// crashChild writes records from 8 goroutines until it is killed, and prints
// "ack <id>" for each record only after Write returned nil. It exits on its
// own after 60 s in case the parent is gone.
func crashChild(dir, prefix string) {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "child: open: %v\n", err)
		os.Exit(2)
	}

	var (
		next atomic.Int64
		out  sync.Mutex
	)
	for range 8 {
		go func() {
			for {
				r := testRecord(prefix, int(next.Add(1)))
				if err := s.Write(Batch{Put: []*Record{r}}); err != nil {
					fmt.Fprintf(os.Stderr, "child: write %s: %v\n", r.ID, err)
					os.Exit(3)
				}
				out.Lock()
				// One write call per line, so a kill never splits a line
				// that the parent counts.
				os.Stdout.WriteString("ack " + r.ID + "\n")
				out.Unlock()
			}
		}()
	}
	time.Sleep(60 * time.Second)
	os.Exit(4)
}

// TestCrashKeepsAcknowledgedWrites kills a writing process with SIGKILL. The
// kernel keeps the page cache of a killed process, so this proves that Write
// returns only after its transaction reached the file. It cannot prove the
// fsync, which only a power cut tests.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()

	// Each round kills a writer and checks the store, so later rounds also
	// open a file that an earlier kill left behind.
	want := map[string]*Record{}
	for round := range 3 {
		prefix := "r" + strconv.Itoa(round) + "-"
		for _, id := range runAndKillChild(t, dir, prefix, 300) {
			n, err := strconv.Atoi(strings.TrimPrefix(id, prefix))
			if err != nil {
				t.Fatalf("child printed the invalid id %q: %v", id, err)
			}
			want[id] = testRecord(prefix, n)
		}

		got := byID(loadAll(t, dir))
		for id, w := range want {
			if r := got[id]; r == nil {
				t.Errorf("round %d: task %s was acknowledged before the kill but is missing after reopen", round, id)
			} else {
				assertRecordEqual(t, r, w)
			}
		}
		t.Logf("round %d: %d tasks acknowledged in all rounds, %d stored", round, len(want), len(got))
	}
}

// runAndKillChild starts a child that writes to dir, kills it with SIGKILL
// after it acknowledged minAcks records, and returns every acknowledged id.
func runAndKillChild(t *testing.T, dir, prefix string, minAcks int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, "LBD_STORE_CRASH_PREFIX="+prefix)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}

	enough := make(chan struct{})
	lines := make(chan []string, 1)
	go func() { lines <- readAcks(stdout, minAcks, enough) }()

	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child acknowledged fewer than %d writes in 30 s", minAcks)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	ids := <-lines
	err = cmd.Wait()
	if status, ok := err.(*exec.ExitError); !ok || status.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want death by SIGKILL", err)
	}
	return ids
}

// readAcks collects the ids of complete "ack" lines until EOF and closes
// enough after minAcks of them. A last line without a newline was cut by the
// kill and does not count.
func readAcks(r io.Reader, minAcks int, enough chan<- struct{}) []string {
	var ids []string
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if len(ids) < minAcks {
				close(enough)
			}
			return ids
		}
		if id, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "ack "); ok {
			ids = append(ids, id)
		}
		if len(ids) == minAcks {
			close(enough)
		}
	}
}
