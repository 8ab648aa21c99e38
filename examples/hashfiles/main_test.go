package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// TestHashfilesAgainstMaster builds the example, runs it as a worker of a
// real master beside an lbd worker, and checks the hashes it returns.
func TestHashfilesAgainstMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master process; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hashfiles")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	c := clustertest.StartMaster(t)
	c.StartWorker("lbd-worker", []string{"LBD_BUILTINS=echo"}, "-population", "1")
	example := exec.Command(bin, "-node", "hasher", "-join", c.Gossip, "-bind", "127.0.0.1:0", "-population", "2")
	if err := example.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		example.Process.Signal(syscall.SIGTERM)
		example.Wait()
	}()
	api := c.API()
	api.WaitWorkers(t, 2, 20*time.Second)

	dir := t.TempDir()
	var reqs []clustertest.TaskRequest
	want := map[int]string{}
	for i, text := range []string{"alpha", "beta", "", "a longer file\nwith lines\n"} {
		path := filepath.Join(dir, "file"+string(rune('a'+i)))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(text))
		want[i] = hex.EncodeToString(sum[:]) + "  " + path
		reqs = append(reqs, clustertest.TaskRequest{Type: "sha256file", Payload: path})
	}
	reqs = append(reqs, clustertest.TaskRequest{Type: "echo", Payload: "beside"})

	tasks := api.WaitFinal(t, api.SubmitBatch(t, reqs), time.Minute)
	for i, task := range tasks[:len(want)] {
		if task.Status != "succeeded" || task.Output != want[i] || task.Worker != "hasher" {
			t.Errorf("task %d = %s %q on %s, want succeeded %q on hasher", i, task.Status, task.Output, task.Worker, want[i])
		}
	}
	if last := tasks[len(tasks)-1]; last.Status != "succeeded" || last.Worker != "lbd-worker" {
		t.Errorf("echo task = %s on %s, want succeeded on the lbd worker", last.Status, last.Worker)
	}
}
