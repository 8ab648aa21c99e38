//go:build linux

package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// brokenDirEnv makes the test binary run the child side of
// TestWriteAfterFatalError.
const brokenDirEnv = "LBD_STORE_BROKEN_DIR"

// TestBrokenChildProcess limits the file size of its own process with
// RLIMIT_FSIZE, so that bbolt fails to grow the store file with EFBIG, and
// prints the errors of the writes that follow. It runs only when the parent
// sets brokenDirEnv, because the limit applies to the whole process.
func TestBrokenChildProcess(t *testing.T) {
	dir := os.Getenv(brokenDirEnv)
	if dir == "" {
		t.Skip("runs only as the child process of TestWriteAfterFatalError")
	}
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	info, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	limit := &syscall.Rlimit{Cur: uint64(info.Size()), Max: uint64(info.Size())}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, limit); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}

	payload := bytes.Repeat([]byte("p"), 64<<10)
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatalf("%d writes of 64 KiB under a file size limit of %d bytes succeeded", i, info.Size())
		}
		r := testRecord("big-", i)
		r.Payload = payload
		if err := s.Write(Batch{Put: []*Record{r}}); err != nil {
			fmt.Printf("failed %s\nfirst: %v\n", r.ID, err)
			break
		}
		fmt.Printf("ack %s\n", r.ID)
	}
	fmt.Printf("second: %v\n", s.Write(Batch{Put: []*Record{testRecord("small-", 1)}}))
	fmt.Printf("load: %v\n", s.Load(func(*Record) error { return nil }))
	fmt.Printf("close: %v\n", s.Close())
}

func TestWriteAfterFatalError(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBrokenChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), brokenDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}

	lines := map[string]string{}
	var acked []string
	for line := range strings.Lines(string(out)) {
		key, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		if key == "ack" {
			acked = append(acked, value)
		} else {
			lines[key] = value
		}
	}

	t.Logf("%d writes acknowledged, then: %s", len(acked), lines["first:"])
	path := dir + "/" + FileName
	if want := "commit to task store " + path + ": "; !strings.HasPrefix(lines["first:"], want) {
		t.Errorf("first failed Write: err = %q, want it to start with %q", lines["first:"], want)
	}
	broken := "task store " + path + " rejects writes after a failed commit: restart lbd once the disk is fixed: commit to task store"
	if !strings.HasPrefix(lines["second:"], broken) {
		t.Errorf("Write after the failure: err = %q, want it to start with %q", lines["second:"], broken)
	}
	if !strings.HasPrefix(lines["load:"], broken) {
		t.Errorf("Load after the failure: err = %q, want it to start with %q", lines["load:"], broken)
	}
	if lines["close:"] != "<nil>" {
		t.Errorf("Close after the failure: err = %q, want <nil>", lines["close:"])
	}

	// A restart without the limit finds every acknowledged write and none of
	// the failed ones, and takes writes again.
	got := byID(loadAll(t, dir))
	for _, id := range acked {
		if got[id] == nil {
			t.Errorf("task %s was acknowledged but is missing after reopen", id)
		}
	}
	for _, id := range []string{lines["failed"], "small-000001"} {
		if got[id] != nil {
			t.Errorf("task %s got a write error but is stored after reopen", id)
		}
	}
	s := openStore(t, dir, Options{NoSync: true})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("small-", 1)}})
}
