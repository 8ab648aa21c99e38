package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/store"
)

// recorder is a Sender that records what the scheduler sends to one worker.
type recorder struct {
	mu      sync.Mutex
	assigns []Assignment
	cancels []AttemptRef
}

func (r *recorder) Assign(a Assignment) {
	r.mu.Lock()
	r.assigns = append(r.assigns, a)
	r.mu.Unlock()
}

func (r *recorder) Cancel(id string, attempt uint32) {
	r.mu.Lock()
	r.cancels = append(r.cancels, AttemptRef{ID: id, Attempt: attempt})
	r.mu.Unlock()
}

func (r *recorder) taken() []Assignment {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.assigns
	r.assigns = nil
	return out
}

func testConfig(st store.Store) Config {
	return Config{
		MaxAttempts:     3,
		TaskTimeout:     time.Minute,
		RetryBackoff:    10 * time.Millisecond,
		RetryBackoffMax: 40 * time.Millisecond,
		MaxQueuedTasks:  1000,
		MaxQueuedBytes:  1 << 20,
		MaxPayloadBytes: 1024,
		ResultRetention: time.Hour,
		AdoptGrace:      200 * time.Millisecond,
		Store:           st,
	}
}

func newTestScheduler(t *testing.T, mutate ...func(*Config)) *Scheduler {
	t.Helper()
	cfg := testConfig(store.NewMemory())
	for _, f := range mutate {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func addWorker(t *testing.T, s *Scheduler, name string, slots int, types ...string) (*WorkerHandle, *recorder) {
	t.Helper()
	rec := &recorder{}
	h, stale, err := s.AddWorker(WorkerSpec{Name: name, Addr: "127.0.0.1:1", Slots: slots, Types: types}, rec)
	if err != nil {
		t.Fatalf("AddWorker %s: %v", name, err)
	}
	if len(stale) != 0 {
		t.Fatalf("AddWorker %s: stale = %v, want none", name, stale)
	}
	return h, rec
}

func submit(t *testing.T, s *Scheduler, typ string, n int) []string {
	t.Helper()
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = Spec{Type: typ, Payload: []byte(fmt.Sprint(i))}
	}
	ids, err := s.Submit(specs)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return ids
}

func mustGet(t *testing.T, s *Scheduler, id string) Task {
	t.Helper()
	task, err := s.Get(id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return task
}

func TestAssignOnlyToFreeSlots(t *testing.T) {
	s := newTestScheduler(t)
	_, rec := addWorker(t, s, "w1", 2, "echo")
	ids := submit(t, s, "echo", 5)

	got := rec.taken()
	if len(got) != 2 {
		t.Fatalf("assignments = %d, want 2 (the worker's slots)", len(got))
	}
	if got[0].ID != ids[0] || got[1].ID != ids[1] {
		t.Errorf("assigned %s, %s; want the first two submitted %s, %s", got[0].ID, got[1].ID, ids[0], ids[1])
	}
	if st := s.Stats(); st.Queued != 3 || st.Running != 2 {
		t.Errorf("stats queued=%d running=%d, want 3 and 2", st.Queued, st.Running)
	}
}

func TestLeastLoadedWorkerWins(t *testing.T) {
	s := newTestScheduler(t)
	_, recA := addWorker(t, s, "a", 4, "echo")
	_, recB := addWorker(t, s, "b", 4, "echo")
	submit(t, s, "echo", 6)

	a, b := len(recA.taken()), len(recB.taken())
	if a != 3 || b != 3 {
		t.Errorf("split a=%d b=%d, want 3 and 3", a, b)
	}
}

func TestTypeRouting(t *testing.T) {
	s := newTestScheduler(t)
	_, recEcho := addWorker(t, s, "e", 4, "echo")
	_, recSleep := addWorker(t, s, "z", 4, "sleep")
	submit(t, s, "sleep", 2)
	submit(t, s, "echo", 1)
	submit(t, s, "other", 1)

	if n := len(recEcho.taken()); n != 1 {
		t.Errorf("echo worker got %d, want 1", n)
	}
	if n := len(recSleep.taken()); n != 2 {
		t.Errorf("sleep worker got %d, want 2", n)
	}
	if q := s.Stats().Queued; q != 1 {
		t.Errorf("queued = %d, want 1 (the task nobody runs)", q)
	}
}

func TestCompleteFreesSlotAndRecordsOutput(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w", 1, "echo")
	ids := submit(t, s, "echo", 2)

	a := rec.taken()[0]
	s.Complete(h, Result{ID: a.ID, Attempt: a.Attempt, OK: true, Output: []byte("out")})

	task := mustGet(t, s, ids[0])
	if task.Status != StatusSucceeded || string(task.Output) != "out" || task.Worker != "w" {
		t.Errorf("task = %+v, want succeeded with output \"out\" on w", task)
	}
	next := rec.taken()
	if len(next) != 1 || next[0].ID != ids[1] {
		t.Fatalf("after completion assigned %v, want the second task", next)
	}
}

func TestFailureRetriesThenFails(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w", 1, "echo")
	id := submit(t, s, "echo", 1)[0]

	for attempt := uint32(1); attempt <= 3; attempt++ {
		var a Assignment
		deadline := time.Now().Add(2 * time.Second)
		for {
			if got := rec.taken(); len(got) == 1 {
				a = got[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("attempt %d was never assigned", attempt)
			}
			time.Sleep(time.Millisecond)
		}
		if a.Attempt != attempt {
			t.Fatalf("assignment attempt = %d, want %d", a.Attempt, attempt)
		}
		s.Complete(h, Result{ID: id, Attempt: a.Attempt, Error: fmt.Sprintf("boom %d", attempt)})
		if attempt < 3 {
			if st := mustGet(t, s, id).Status; st != StatusRetrying {
				t.Fatalf("status after failure %d = %s, want retrying", attempt, st)
			}
		}
	}
	task := mustGet(t, s, id)
	if task.Status != StatusFailed || task.Error != "boom 3" || task.Attempts != 3 {
		t.Errorf("task = %s, error %q, attempts %d; want failed, \"boom 3\", 3", task.Status, task.Error, task.Attempts)
	}
}

func TestWorkerLossRequeuesAtOnceAndCounts(t *testing.T) {
	s := newTestScheduler(t)
	h1, rec1 := addWorker(t, s, "w1", 1, "echo")
	id := submit(t, s, "echo", 1)[0]
	if len(rec1.taken()) != 1 {
		t.Fatal("task not assigned to w1")
	}
	_, rec2 := addWorker(t, s, "w2", 1, "echo")

	s.RemoveWorker(h1, "connection lost")
	got := rec2.taken()
	if len(got) != 1 || got[0].ID != id || got[0].Attempt != 2 {
		t.Fatalf("w2 got %+v, want attempt 2 of %s at once", got, id)
	}
	if f := mustGet(t, s, id).Failures; f != 1 {
		t.Errorf("failures = %d, want 1: a lost worker counts as an attempt", f)
	}
}

func TestPoisonTaskEndsFailed(t *testing.T) {
	s := newTestScheduler(t)
	id := submit(t, s, "echo", 1)[0]
	for i := 0; i < 3; i++ {
		h, rec := addWorker(t, s, fmt.Sprintf("w%d", i), 1, "echo")
		if len(rec.taken()) != 1 {
			t.Fatalf("round %d: task not assigned", i)
		}
		s.RemoveWorker(h, "process crashed")
	}
	task := mustGet(t, s, id)
	if task.Status != StatusFailed {
		t.Fatalf("status = %s, want failed after 3 worker losses", task.Status)
	}
	if want := "worker w2 lost: process crashed"; task.Error != want {
		t.Errorf("error = %q, want %q", task.Error, want)
	}
}

func TestStaleResultDropped(t *testing.T) {
	s := newTestScheduler(t)
	h1, rec1 := addWorker(t, s, "w1", 1, "echo")
	id := submit(t, s, "echo", 1)[0]
	first := rec1.taken()[0]
	h2, rec2 := addWorker(t, s, "w2", 1, "echo")
	s.RemoveWorker(h1, "heartbeat timeout")
	second := rec2.taken()[0]

	s.Complete(h1, Result{ID: id, Attempt: first.Attempt, OK: true, Output: []byte("late")})
	if st := s.Stats().StaleResults; st != 1 {
		t.Errorf("stale results = %d, want 1", st)
	}
	s.Complete(h2, Result{ID: id, Attempt: second.Attempt, OK: true, Output: []byte("fresh")})
	if task := mustGet(t, s, id); string(task.Output) != "fresh" {
		t.Errorf("output = %q, want \"fresh\" from the current attempt", task.Output)
	}
}

func TestHandedBackNotCounted(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w", 1, "echo")
	id := submit(t, s, "echo", 1)[0]
	a := rec.taken()[0]
	s.Complete(h, Result{ID: id, Attempt: a.Attempt, HandedBack: true, Error: "draining"})

	task := mustGet(t, s, id)
	if task.Failures != 0 {
		t.Errorf("failures = %d, want 0 for a handed-back attempt", task.Failures)
	}
	if got := rec.taken(); len(got) != 1 || got[0].Attempt != 2 {
		t.Errorf("reassigned %+v, want attempt 2 at once", got)
	}
}

func TestCancel(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w", 1, "echo")
	ids := submit(t, s, "echo", 2)
	running := rec.taken()[0]

	if _, err := s.Cancel(ids[1]); err != nil {
		t.Fatalf("cancel queued: %v", err)
	}
	if _, err := s.Cancel(ids[0]); err != nil {
		t.Fatalf("cancel running: %v", err)
	}
	if len(rec.cancels) != 1 || rec.cancels[0].ID != ids[0] {
		t.Errorf("cancels sent = %v, want one for %s", rec.cancels, ids[0])
	}
	if _, err := s.Cancel(ids[0]); !errors.Is(err, ErrConflict) {
		t.Errorf("second cancel err = %v, want ErrConflict", err)
	}
	if st := s.Stats(); st.Queued != 0 || st.Running != 0 || st.BusySlots != 1 {
		t.Errorf("stats = %+v, want nothing queued or running, slot busy until the worker reports", st)
	}
	s.Complete(h, Result{ID: ids[0], Attempt: running.Attempt, Error: "canceled"})
	if st := s.Stats(); st.BusySlots != 0 || st.StaleResults != 0 {
		t.Errorf("after report busy=%d stale=%d, want 0 and 0", st.BusySlots, st.StaleResults)
	}
	if task := mustGet(t, s, ids[0]); task.Status != StatusCanceled {
		t.Errorf("status = %s, want canceled", task.Status)
	}
}

func TestIdempotencyKey(t *testing.T) {
	s := newTestScheduler(t)
	first, err := s.Submit([]Spec{{Type: "echo", Key: "k1"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Submit([]Spec{{Type: "echo", Key: "k1"}, {Type: "echo", Key: "k2"}, {Type: "echo", Key: "k2"}})
	if err != nil {
		t.Fatal(err)
	}
	if again[0] != first[0] {
		t.Errorf("same key gave id %s, want %s", again[0], first[0])
	}
	if again[1] != again[2] {
		t.Errorf("duplicate key in one batch gave %s and %s, want one id", again[1], again[2])
	}
	if q := s.Stats().Queued; q != 2 {
		t.Errorf("queued = %d, want 2", q)
	}
}

func TestQueueLimits(t *testing.T) {
	s := newTestScheduler(t, func(c *Config) { c.MaxQueuedTasks = 3 })
	submit(t, s, "echo", 3)
	_, err := s.Submit([]Spec{{Type: "echo"}})
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrQueueFull) || le.Setting != "max_queued_tasks" || le.Limit != 3 {
		t.Fatalf("err = %v, want a max_queued_tasks limit of 3", err)
	}
	_, err = s.Submit([]Spec{{Type: "echo", Payload: make([]byte, 2048)}})
	if !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("big payload err = %v, want ErrPayloadTooLarge", err)
	}
	if q := s.Stats().Queued; q != 3 {
		t.Errorf("queued = %d, want 3: a rejected submit adds nothing", q)
	}
}

func TestInvalidSpec(t *testing.T) {
	s := newTestScheduler(t)
	cases := []struct {
		spec  Spec
		field string
	}{
		{Spec{Type: ""}, "type"},
		{Spec{Type: "has space"}, "type"},
		{Spec{Type: "echo", Timeout: -time.Second}, "timeout"},
		{Spec{Type: "echo", MaxAttempts: 5000}, "max_attempts"},
	}
	for _, c := range cases {
		_, err := s.Submit([]Spec{c.spec})
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("Submit(%+v) err = %v, want invalid %s", c.spec, err, c.field)
		}
	}
	_, err := s.Submit([]Spec{{Type: "ok"}, {Type: "bad type"}})
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Index != 1 {
		t.Errorf("batch err = %v, want index 1", err)
	}
}

func TestWaitReturnsWhenFinal(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w", 1, "echo")
	id := submit(t, s, "echo", 1)[0]
	a := rec.taken()[0]

	done := make(chan Task)
	go func() {
		task, _ := s.Wait(context.Background(), id)
		done <- task
	}()
	time.Sleep(20 * time.Millisecond)
	s.Complete(h, Result{ID: id, Attempt: a.Attempt, OK: true})
	select {
	case task := <-done:
		if task.Status != StatusSucceeded {
			t.Errorf("Wait returned %s, want succeeded", task.Status)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return after the task succeeded")
	}
}

func TestDuplicateWorkerNameRejected(t *testing.T) {
	s := newTestScheduler(t)
	addWorker(t, s, "w", 1, "echo")
	_, _, err := s.AddWorker(WorkerSpec{Name: "w", Slots: 1, Types: []string{"echo"}}, &recorder{})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("second worker named w: err = %v, want ErrConflict", err)
	}
}

func TestRetention(t *testing.T) {
	s := newTestScheduler(t, func(c *Config) { c.ResultRetention = 50 * time.Millisecond })
	h, rec := addWorker(t, s, "w", 1, "echo")
	ids, err := s.Submit([]Spec{{Type: "echo", Key: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	a := rec.taken()[0]
	s.Complete(h, Result{ID: ids[0], Attempt: a.Attempt, OK: true})

	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.Get(ids[0]); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("finished task still kept past its retention")
		}
		time.Sleep(10 * time.Millisecond)
	}
	again, _ := s.Submit([]Spec{{Type: "echo", Key: "k"}})
	if again[0] == ids[0] {
		t.Error("key still maps to the expired task")
	}
}

func TestDrainingWorkerGetsNothing(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w", 2, "echo")
	s.SetDraining(h)
	submit(t, s, "echo", 1)
	if n := len(rec.taken()); n != 0 {
		t.Errorf("draining worker got %d assignments, want 0", n)
	}
}

func TestResultBytesCapForgetsOldest(t *testing.T) {
	s := newTestScheduler(t, func(c *Config) { c.MaxResultBytes = 100 })
	h, rec := addWorker(t, s, "w", 1, "echo")
	ids := submit(t, s, "echo", 5)
	for range ids {
		a := rec.taken()[0]
		s.Complete(h, Result{ID: a.ID, Attempt: a.Attempt, OK: true, Output: make([]byte, 40)})
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Get(ids[2])
		if errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("outputs over max_result_bytes were kept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, id := range ids {
		_, err := s.Get(id)
		if kept := err == nil; kept != (i >= 3) {
			t.Errorf("task %d kept = %v, want only the two newest (100 bytes of output) kept", i, kept)
		}
	}
}

func TestCompleteBatchAppliesEachResult(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addWorker(t, s, "w1", 3, "echo")
	ids := submit(t, s, "echo", 5)
	first := rec.taken()
	if len(first) != 3 {
		t.Fatalf("assigned %d tasks to 3 free slots, want 3", len(first))
	}

	s.CompleteBatch(h, []Result{
		{ID: first[0].ID, Attempt: first[0].Attempt, OK: true, Output: []byte("one")},
		{ID: first[1].ID, Attempt: first[1].Attempt + 1, OK: true}, // not the running attempt
		{ID: first[2].ID, Attempt: first[2].Attempt, Error: "boom"},
	})

	if got := mustGet(t, s, first[0].ID); got.Status != StatusSucceeded || string(got.Output) != "one" {
		t.Errorf("task %s: status %s output %q, want succeeded with \"one\"", first[0].ID, got.Status, got.Output)
	}
	if got := mustGet(t, s, first[1].ID); got.Status != StatusRunning {
		t.Errorf("task %s with a stale result: status %s, want running", first[1].ID, got.Status)
	}
	if got := mustGet(t, s, first[2].ID); got.Status != StatusRetrying {
		t.Errorf("task %s that failed: status %s, want retrying", first[2].ID, got.Status)
	}
	if st := s.Stats(); st.StaleResults != 1 {
		t.Errorf("stale results = %d, want 1", st.StaleResults)
	}
	next := rec.taken()
	if len(next) != 2 || next[0].ID != ids[3] || next[1].ID != ids[4] {
		t.Errorf("after the batch the worker got %v, want the 2 queued tasks %s and %s", next, ids[3], ids[4])
	}
}
