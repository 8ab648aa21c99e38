package store

import (
	"fmt"
	"sync"
	"testing"
)

func TestGroupCommitSharesFsync(t *testing.T) {
	const (
		writers = 64
		rounds  = 20
		writes  = writers * rounds
	)
	dir := t.TempDir()
	s := openStore(t, dir, Options{})

	// Every writer waits for the start signal, so all 64 compete for the
	// committer from the first write on.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range rounds {
				r := testRecord(fmt.Sprintf("w%02d-", w), i)
				if err := s.Write(Batch{Put: []*Record{r}}); err != nil {
					t.Errorf("Write %s: %v", r.ID, err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()

	stats := s.Stats()
	t.Logf("%d writes in %d commits, max commit %s", stats.Writes, stats.Commits, stats.MaxCommit)
	if stats.Writes != writes {
		t.Errorf("Writes = %d, want %d", stats.Writes, writes)
	}
	if stats.Commits > writes/4 {
		t.Errorf("%d writes took %d commits, want at most %d: concurrent writes do not share commits",
			writes, stats.Commits, writes/4)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got := byID(loadAll(t, dir))
	if len(got) != writes {
		t.Errorf("Load returned %d records, want %d", len(got), writes)
	}
	for w := range writers {
		for i := range rounds {
			want := testRecord(fmt.Sprintf("w%02d-", w), i)
			if r := got[want.ID]; r == nil {
				t.Errorf("task %s was acknowledged but is missing after reopen", want.ID)
			} else {
				assertRecordEqual(t, r, want)
			}
		}
	}
}
