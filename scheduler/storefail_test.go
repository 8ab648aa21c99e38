package scheduler

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// failingStore fails every write while fail is set, like a full disk.
type failingStore struct {
	*store.Bolt
	fail   atomic.Bool
	stored atomic.Int64 // successful writes
}

var errDiskFull = errors.New("no space left on device")

func (f *failingStore) Write(b store.Batch) error {
	if f.fail.Load() {
		return errDiskFull
	}
	err := f.Bolt.Write(b)
	if err == nil {
		f.stored.Add(1)
	}
	return err
}

func TestCancelAndPurgeReportFailedStoreWrite(t *testing.T) {
	dir := t.TempDir()
	st := &failingStore{Bolt: openBolt(t, dir)}
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	ids := submit(t, s, "echo", 3) // no worker: all stay queued

	st.fail.Store(true)
	if _, err := s.Cancel(ids[0]); !errors.Is(err, ErrStore) || !errors.Is(err, errDiskFull) {
		t.Errorf("Cancel with a failing store: err = %v, want ErrStore wrapping the write error", err)
	}
	if got := mustGet(t, s, ids[0]); got.Status != StatusCanceled {
		t.Errorf("task %s after the failed store write: %s, want canceled in memory", ids[0], got.Status)
	}
	n, err := s.Purge(DefaultQueue)
	if !errors.Is(err, ErrStore) {
		t.Errorf("Purge with a failing store: err = %v, want ErrStore", err)
	}
	if n != 2 {
		t.Errorf("Purge with a failing store canceled %d tasks, want 2", n)
	}

	// Once the disk has room again, the persist loop writes the changes
	// without any further call.
	before := st.stored.Load()
	st.fail.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for st.stored.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no store write within 5 s after the store recovered")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A master killed now must not bring the tasks back: reopen the store
	// without the scheduler's final write at Stop.
	st.fail.Store(true) // Stop's own write must not be what stores them
	s.Stop()
	st.Bolt.Close()
	st2 := openBolt(t, dir)
	defer st2.Close()
	s2, err := New(testConfig(st2))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	for _, id := range ids {
		if got := mustGet(t, s2, id); got.Status != StatusCanceled {
			t.Errorf("task %s after a restart: %s, want canceled", id, got.Status)
		}
	}
}
