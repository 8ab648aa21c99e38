//go:build linux

package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// mountSmallTmpfs mounts a tmpfs of the given size on a new directory and
// unmounts it when the test ends. It skips the test where mount is not
// permitted.
func mountSmallTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("full disk test needs a tmpfs mount, which root with CAP_SYS_ADMIN may make: mount tmpfs on %s: %v", mnt, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// fillDisk writes a file in dir until the file system is full.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v, want ENOSPC in the end", path, err)
			}
			return path
		}
	}
}

func TestWriteFullDisk(t *testing.T) {
	mnt := mountSmallTmpfs(t, "2m")
	dir := filepath.Join(mnt, "data")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	acked := map[string]bool{}
	for i := range 10 {
		r := testRecord("before-", i)
		mustWrite(t, s, Batch{Put: []*Record{r}})
		acked[r.ID] = true
	}
	ballast := fillDisk(t, mnt)

	// Concurrent writers of records larger than a page until every write of
	// a round fails. A few may still fit into free pages of the file.
	var failed []string
	payload := bytes.Repeat([]byte("x"), 32<<10)
	for round := 0; len(failed) == 0; round++ {
		if round == 20 {
			t.Fatal("writes still succeed after 20 rounds on a full file system")
		}
		results := writeConcurrently(s, fmt.Sprintf("full%d-", round), 8, payload)
		for id, err := range results {
			if err == nil {
				acked[id] = true
				continue
			}
			failed = append(failed, id)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Write %s: err = %v, want ENOSPC", id, err)
			}
			if !strings.Contains(err.Error(), s.Path()) {
				t.Errorf("Write %s: err = %q, want it to name the path %s", id, err, s.Path())
			}
		}
	}
	if s.Stats().Failures == 0 {
		t.Error("Stats().Failures = 0 after failed writes, want at least 1")
	}

	// With space again the same store takes writes.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	after := testRecord("after-", 1)
	if err := s.Write(Batch{Put: []*Record{after}}); err != nil {
		t.Fatalf("Write after freeing space: %v, want the store usable again", err)
	}
	acked[after.ID] = true
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got := byID(loadAll(t, dir))
	for id := range acked {
		if got[id] == nil {
			t.Errorf("task %s was acknowledged but is missing after reopen", id)
		}
	}
	for _, id := range failed {
		if got[id] != nil {
			t.Errorf("task %s got a write error but is stored after reopen", id)
		}
	}
}

// writeConcurrently writes one record per goroutine at once and returns each
// record's id with the error of its Write.
func writeConcurrently(s *Bolt, prefix string, n int, payload []byte) map[string]error {
	var (
		mu      sync.Mutex
		results = map[string]error{}
		wg      sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := testRecord(prefix, i)
			r.Payload = payload
			err := s.Write(Batch{Put: []*Record{r}})
			mu.Lock()
			results[r.ID] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}
