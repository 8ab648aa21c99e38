package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/store"
)

func openBolt(t *testing.T, dir string) *store.Bolt {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	return st
}

// restart stops s and its store the way a clean master shutdown does and
// builds a new scheduler on the same directory.
func restart(t *testing.T, s *Scheduler, st *store.Bolt, dir string) (*Scheduler, *store.Bolt) {
	t.Helper()
	s.Stop()
	if err := st.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	st2 := openBolt(t, dir)
	s2, err := New(testConfig(st2))
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	t.Cleanup(func() { s2.Stop(); st2.Close() })
	return s2, st2
}

func TestRestartKeepsQueuedTasks(t *testing.T) {
	dir := t.TempDir()
	st := openBolt(t, dir)
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	ids := submit(t, s, "echo", 50)

	s2, _ := restart(t, s, st, dir)
	if q := s2.Stats().Queued; q != 50 {
		t.Fatalf("queued after restart = %d, want 50", q)
	}
	_, rec := addWorker(t, s2, "w", 100, "echo")
	got := rec.taken()
	if len(got) != 50 {
		t.Fatalf("assigned %d after restart, want 50", len(got))
	}
	for i, a := range got {
		if a.ID != ids[i] {
			t.Fatalf("assignment %d is %s, want %s: submission order lost", i, a.ID, ids[i])
		}
	}
	more := submit(t, s2, "echo", 1)
	if more[0] <= ids[len(ids)-1] {
		t.Errorf("new id %s does not sort after the old ones (last %s)", more[0], ids[len(ids)-1])
	}
}

func TestRestartAdoptsRunningAttempt(t *testing.T) {
	dir := t.TempDir()
	st := openBolt(t, dir)
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	_, rec := addWorker(t, s, "w1", 2, "echo")
	ids := submit(t, s, "echo", 2)
	running := rec.taken()
	if len(running) != 2 {
		t.Fatalf("assigned %d, want 2", len(running))
	}

	s2, _ := restart(t, s, st, dir)
	if r := s2.Stats().Running; r != 2 {
		t.Fatalf("running after restart = %d, want 2 awaiting adoption", r)
	}

	// w1 claims the first attempt only; the second waits out the grace.
	rec2 := &recorder{}
	h, stale, err := s2.AddWorker(WorkerSpec{
		Name: "w1", Slots: 1, Types: []string{"echo"},
		Running: []AttemptRef{{ID: ids[0], Attempt: running[0].Attempt}, {ID: "unknown", Attempt: 1}},
	}, rec2)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || stale[0].ID != "unknown" {
		t.Errorf("stale = %v, want only the unknown attempt", stale)
	}
	if n := len(rec2.taken()); n != 0 {
		t.Errorf("adopting worker got %d new assignments, want 0 (its slot is busy)", n)
	}

	_, rec3 := addWorker(t, s2, "w2", 1, "echo")
	deadline := time.Now().Add(3 * time.Second)
	var got []Assignment
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = rec3.taken()
	}
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("after the grace w2 got %+v, want the unclaimed task %s", got, ids[1])
	}
	if got[0].Attempt != running[1].Attempt+1 {
		t.Errorf("requeued attempt = %d, want %d", got[0].Attempt, running[1].Attempt+1)
	}

	s2.Complete(h, Result{ID: ids[0], Attempt: running[0].Attempt, OK: true, Output: []byte("adopted")})
	if task := mustGet(t, s2, ids[0]); task.Status != StatusSucceeded || string(task.Output) != "adopted" {
		t.Errorf("adopted task = %s %q, want succeeded \"adopted\"", task.Status, task.Output)
	}
	if task := mustGet(t, s2, ids[1]); task.Failures != 0 {
		t.Errorf("unclaimed task failures = %d, want 0: a master restart does not use up attempts", task.Failures)
	}
}

// queueByName returns the snapshot of one queue, or a zero Queue.
func queueByName(s *Scheduler, name string) Queue {
	for _, q := range s.Queues() {
		if q.Name == name {
			return q
		}
	}
	return Queue{}
}

func TestPauseSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st := openBolt(t, dir)
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pause("low"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := s.Pause("bulk"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := s.Resume("bulk"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	ids := submitTo(t, s, "low", 0, 3)

	s2, st2 := restart(t, s, st, dir)
	if q := queueByName(s2, "low"); !q.Paused || q.Queued != 3 {
		t.Fatalf("queue low after restart = %+v, want paused with 3 queued", q)
	}
	if q := queueByName(s2, "bulk"); q.Paused {
		t.Errorf("queue bulk after restart = %+v, want not paused: it was resumed", q)
	}
	_, rec := addQueueWorker(t, s2, "w", 5, false, QueueWeight{"low", 1})
	if got := rec.taken(); len(got) != 0 {
		t.Fatalf("paused queue handed out %d tasks after restart, want none", len(got))
	}

	if err := s2.Resume("low"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	got := rec.taken()
	if len(got) != len(ids) {
		t.Fatalf("resumed queue handed out %d tasks, want %d", len(got), len(ids))
	}
	for i, a := range got {
		if a.ID != ids[i] {
			t.Errorf("assignment %d is %s, want %s", i, a.ID, ids[i])
		}
	}

	s3, _ := restart(t, s2, st2, dir)
	if q := queueByName(s3, "low"); q.Paused {
		t.Errorf("queue low after resume and restart = %+v, want not paused", q)
	}
}

func TestPauseInMemoryEndsAtRestart(t *testing.T) {
	st := store.NewMemory()
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pause("low"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	s.Stop()

	s2, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	if q := queueByName(s2, "low"); q.Paused {
		t.Errorf("queue low after a restart with the in-memory store = %+v, want not paused", q)
	}
}

func TestPauseStoreFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	st := openBolt(t, dir)
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := s.Pause("held"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	st.Close() // every later write fails with ErrClosed

	err = s.Pause("low")
	if !errors.Is(err, ErrStore) || !errors.Is(err, store.ErrClosed) {
		t.Errorf("Pause with a closed store: err = %v, want ErrStore wrapping store.ErrClosed", err)
	}
	if q := queueByName(s, "low"); q.Paused {
		t.Errorf("queue low = %+v after a failed Pause, want not paused", q)
	}
	err = s.Resume("held")
	if !errors.Is(err, ErrStore) {
		t.Errorf("Resume with a closed store: err = %v, want ErrStore", err)
	}
	if q := queueByName(s, "held"); !q.Paused {
		t.Errorf("queue held = %+v after a failed Resume, want still paused", q)
	}
}

func TestStoredInvalidQueueNameFailsStart(t *testing.T) {
	st := openBolt(t, t.TempDir())
	defer st.Close()
	if err := st.Write(store.Batch{Queues: []store.QueueState{{Name: "bad name", Paused: true}}}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	s, err := New(testConfig(st))
	if err == nil {
		s.Stop()
		t.Fatal("New accepted a store with a queue state of an invalid name")
	}
	for _, want := range []string{`"bad name"`, "the store is damaged"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New: err = %q, want it to contain %q", err, want)
		}
	}
}
