package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestWriteReopenLoad(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})

	// Ids sort in the reverse of Seq order, so Load must sort by Seq.
	want := map[string]*Record{}
	for batch := range 10 {
		var b Batch
		for i := range 10 {
			n := batch*10 + i
			r := testRecord("t", n)
			r.ID = fmt.Sprintf("t%06d", 1000-n)
			b.Put = append(b.Put, r)
			want[r.ID] = testRecord("t", n)
			want[r.ID].ID = r.ID
		}
		mustWrite(t, s, b)
	}

	// A later put replaces a record, and deletes remove records.
	updated := *want["t000990"]
	updated.Status = "succeeded"
	updated.Output = []byte("done")
	mustWrite(t, s, Batch{Put: []*Record{&updated}, Delete: []string{"t000901", "t000902"}})
	want["t000990"] = &updated
	delete(want, "t000901")
	delete(want, "t000902")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got := loadAll(t, dir)
	if len(got) != len(want) {
		t.Fatalf("Load returned %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if i > 0 && got[i-1].Seq >= r.Seq {
			t.Errorf("record %d has seq %d after seq %d, want ascending seq", i, r.Seq, got[i-1].Seq)
		}
		if w, ok := want[r.ID]; !ok {
			t.Errorf("Load returned %s, which was never written or was deleted", r.ID)
		} else {
			assertRecordEqual(t, r, w)
		}
	}
}

func TestLoadEqualSeqInIDOrder(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoSync: true})
	mustWrite(t, s, Batch{Put: []*Record{{ID: "c", Seq: 1}, {ID: "a", Seq: 2}, {ID: "b", Seq: 1}}})
	s.Close()

	var ids []string
	for _, r := range loadAll(t, dir) {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "b,c,a" {
		t.Errorf("Load order = %s, want b,c,a", got)
	}
}

func TestBatchPutThenDelete(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoSync: true})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1), testRecord("b", 2)}, Delete: []string{"a000001", "missing"}})
	s.Close()

	got := loadAll(t, dir)
	if len(got) != 1 {
		t.Fatalf("Load returned %d records, want only b000002", len(got))
	}
	if got[0].ID != "b000002" {
		t.Errorf("Load returned %s, want b000002", got[0].ID)
	}
}

func TestWriteRejectsInvalidBatch(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	cases := map[string]struct {
		batch Batch
		want  string
	}{
		"nil record":    {Batch{Put: []*Record{testRecord("a", 1), nil}}, "put 2 of 2 is a nil record"},
		"empty id":      {Batch{Put: []*Record{{Seq: 5}}}, "put 1 of 1 (seq 5): missing task id"},
		"long id":       {Batch{Put: []*Record{{ID: strings.Repeat("x", 40000)}}}, "task id of 40000 bytes is too long: must be at most 32768 bytes"},
		"empty delete":  {Batch{Delete: []string{"a", ""}}, "delete 2 of 2: missing task id"},
		"long delete":   {Batch{Delete: []string{strings.Repeat("y", 32769)}}, "task id of 32769 bytes is too long"},
		"second record": {Batch{Put: []*Record{testRecord("a", 1), {ID: ""}}}, "put 2 of 2"},
		"unnamed queue": {Batch{Queues: []QueueState{{Name: "a", Paused: true}, {Paused: true}}}, "queue state 2 of 2 has no queue name"},
		"long queue": {Batch{Queues: []QueueState{{Name: strings.Repeat("q", 32769)}}},
			"queue state 1 of 1: queue name of 32769 bytes is too long: must be at most 32768 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for _, st := range []Store{s, NewMemory()} {
				err := st.Write(c.batch)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%T.Write: err = %v, want an error containing %q", st, err, c.want)
				}
			}
		})
	}

	if got := s.Stats(); got.Commits != 0 || got.Failures != 0 {
		t.Errorf("invalid batches reached the committer: stats %+v, want no commits and no failures", got)
	}
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1)}})
}

func TestWriteEmptyBatch(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	mustWrite(t, s, Batch{})
	if got := s.Stats().Commits; got != 0 {
		t.Errorf("Commits = %d after an empty batch, want 0", got)
	}
}

func TestWriteAfterClose(t *testing.T) {
	for _, st := range []Store{openStore(t, t.TempDir(), Options{NoSync: true}), NewMemory()} {
		if err := st.Close(); err != nil {
			t.Fatalf("%T.Close: %v", st, err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("%T second Close: %v, want nil", st, err)
		}
		if err := st.Write(Batch{Put: []*Record{testRecord("a", 1)}}); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.Write after Close: err = %v, want ErrClosed", st, err)
		}
		if err := st.Write(Batch{}); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.Write of an empty batch after Close: err = %v, want ErrClosed", st, err)
		}
		if err := st.Load(func(*Record) error { return nil }); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.Load after Close: err = %v, want ErrClosed", st, err)
		}
	}
}

func TestCloseCommitsQueuedWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}

	// Writers race with Close: each Write either becomes durable or returns
	// ErrClosed, never something in between.
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	started := make(chan struct{}, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r := testRecord(fmt.Sprintf("w%02d-", w), i)
				err := s.Write(Batch{Put: []*Record{r}})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Write %s: %v, want nil or ErrClosed", r.ID, err)
					return
				}
				mu.Lock()
				acked = append(acked, r.ID)
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range 16 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()

	got := byID(loadAll(t, dir))
	for _, id := range acked {
		if got[id] == nil {
			t.Errorf("task %s: Write returned nil before Close, but the task is missing after reopen", id)
		}
	}
}

func TestLoadCallbackError(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1), testRecord("a", 2), testRecord("a", 3)}})

	stop := errors.New("scheduler full")
	calls := 0
	err := s.Load(func(r *Record) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("Load: err = %v, want the callback's error", err)
	}
	if err == nil || !strings.Contains(err.Error(), "a000002") {
		t.Errorf("Load: err = %v, want it to name task a000002", err)
	}
	if calls != 2 {
		t.Errorf("callback ran %d times, want 2", calls)
	}

	if err := s.Load(nil); err == nil {
		t.Error("Load(nil) returned nil, want an error")
	}
}

func TestLoadCallbackMayWrite(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1)}})

	err := s.Load(func(r *Record) error {
		r.Status = "retrying"
		return s.Write(Batch{Put: []*Record{r}})
	})
	if err != nil {
		t.Fatalf("Load with a callback that writes: %v", err)
	}
}

func TestMaxBatchBoundsGroup(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true, MaxBatch: 1})

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				r := testRecord(fmt.Sprintf("w%d-", w), i)
				if err := s.Write(Batch{Put: []*Record{r}}); err != nil {
					t.Errorf("Write %s: %v", r.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()

	// A batch over MaxBatch still commits, alone and whole.
	mustWrite(t, s, Batch{Put: []*Record{testRecord("big", 1), testRecord("big", 2), testRecord("big", 3)}})

	got := s.Stats()
	if got.Commits != 161 {
		t.Errorf("Commits = %d with MaxBatch 1, want 161 (one per write)", got.Commits)
	}
	if got.Writes != 161 {
		t.Errorf("Writes = %d, want 161", got.Writes)
	}
	if got.Records != 163 {
		t.Errorf("Records = %d, want 163", got.Records)
	}
}

func TestStatsTimings(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1)}})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 2)}, Delete: []string{"a000001"}})

	got := s.Stats()
	if got.Commits != 2 {
		t.Errorf("Commits = %d, want 2", got.Commits)
	}
	if got.Writes != 2 {
		t.Errorf("Writes = %d, want 2", got.Writes)
	}
	if got.Records != 3 {
		t.Errorf("Records = %d, want 3 (2 puts, 1 delete)", got.Records)
	}
	if got.Failures != 0 {
		t.Errorf("Failures = %d, want 0", got.Failures)
	}
	if got.LastCommit <= 0 {
		t.Errorf("LastCommit = %s, want more than 0", got.LastCommit)
	}
	if got.MaxCommit < got.LastCommit {
		t.Errorf("MaxCommit = %s is less than LastCommit = %s", got.MaxCommit, got.LastCommit)
	}
	if got.LastSync <= 0 {
		t.Errorf("LastSync = %s, want more than 0", got.LastSync)
	}
	if got.MaxSync < got.LastSync {
		t.Errorf("MaxSync = %s is less than LastSync = %s", got.MaxSync, got.LastSync)
	}
	if got.MaxSync > got.MaxCommit {
		t.Errorf("MaxSync = %s is more than MaxCommit = %s, but a sync is part of a commit", got.MaxSync, got.MaxCommit)
	}
}

func TestMemoryStore(t *testing.T) {
	m := NewMemory()
	mustWrite(t, m, Batch{Put: []*Record{testRecord("a", 1)}})

	calls := 0
	if err := m.Load(func(*Record) error { calls++; return nil }); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if calls != 0 {
		t.Errorf("Memory.Load called fn %d times, want 0", calls)
	}
	if err := m.Load(nil); err == nil {
		t.Error("Memory.Load(nil) returned nil, want an error")
	}
}
