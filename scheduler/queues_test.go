package scheduler

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func addQueueWorker(t *testing.T, s *Scheduler, name string, slots int, strict bool, queues ...QueueWeight) (*WorkerHandle, *recorder) {
	t.Helper()
	rec := &recorder{}
	h, _, err := s.AddWorker(WorkerSpec{Name: name, Addr: "127.0.0.1:1", Slots: slots, Types: []string{"echo"},
		Queues: queues, StrictOrder: strict}, rec)
	if err != nil {
		t.Fatalf("AddWorker %s: %v", name, err)
	}
	return h, rec
}

func submitTo(t *testing.T, s *Scheduler, queue string, priority, n int) []string {
	t.Helper()
	specs := make([]Spec, n)
	for i := range specs {
		specs[i] = Spec{Type: "echo", Queue: queue, Priority: priority}
	}
	ids, err := s.Submit(specs)
	if err != nil {
		t.Fatalf("Submit to %s: %v", queue, err)
	}
	return ids
}

// queueOf returns the queue of every task id.
func queueOf(t *testing.T, s *Scheduler, ids map[string]string) func(id string) string {
	return func(id string) string {
		q, ok := ids[id]
		if !ok {
			t.Fatalf("assignment of unknown task %s", id)
		}
		return q
	}
}

func TestWeightedFairnessLongRun(t *testing.T) {
	s := newTestScheduler(t, func(c *Config) { c.MaxQueuedTasks = 100_000; c.MaxQueuedBytes = 1 << 30 })
	weights := []QueueWeight{{"critical", 6}, {"default", 3}, {"low", 1}}
	h, rec := addQueueWorker(t, s, "w", 1, false, weights...)
	rec.taken()

	const perQueue = 5000
	owner := map[string]string{}
	for _, qw := range weights {
		for _, id := range submitTo(t, s, qw.Name, 0, perQueue) {
			owner[id] = qw.Name
		}
	}
	_ = rec.taken() // the first task went out before the other queues had tasks
	lookup := queueOf(t, s, owner)

	// Every queue stays backlogged for the first 5000 slots.
	const rounds = 5000
	counts := map[string]int{}
	for range rounds {
		for _, a := range s.WorkerRunning(h) {
			s.Complete(h, Result{ID: a.ID, Attempt: a.Attempt, OK: true})
		}
		for _, a := range rec.taken() {
			counts[lookup(a.ID)]++
		}
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	for _, qw := range weights {
		want := float64(qw.Weight) / 10
		got := float64(counts[qw.Name]) / float64(total)
		t.Logf("queue %s weight %d: %d of %d slots (%.4f)", qw.Name, qw.Weight, counts[qw.Name], total, got)
		if math.Abs(got-want) > 0.02 {
			t.Errorf("queue %s got %.3f of %d slots, want %.3f ± 0.02", qw.Name, got, total, want)
		}
	}
}

func TestWeightedNoStarvation(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addQueueWorker(t, s, "w", 1, false, QueueWeight{"big", 1000}, QueueWeight{"small", 1})
	owner := map[string]string{}
	for _, id := range submitTo(t, s, "big", 0, 600) {
		owner[id] = "big"
	}
	for _, id := range submitTo(t, s, "small", 0, 5) {
		owner[id] = "small"
	}
	lookup := queueOf(t, s, owner)
	small := 0
	for range 1100 {
		for _, a := range s.WorkerRunning(h) {
			s.Complete(h, Result{ID: a.ID, Attempt: a.Attempt, OK: true})
		}
		for _, a := range rec.taken() {
			if lookup(a.ID) == "small" {
				small++
			}
		}
	}
	if small != 5 {
		t.Errorf("small queue got %d slots while the big one had tasks, want all 5", small)
	}
}

func TestStrictOrder(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addQueueWorker(t, s, "w", 1, true, QueueWeight{"critical", 1}, QueueWeight{"low", 1})
	rec.taken()
	low := submitTo(t, s, "low", 0, 3)
	crit := submitTo(t, s, "critical", 0, 2)
	// The first low task took the free slot before critical had tasks.
	want := []string{low[0], crit[0], crit[1], low[1], low[2]}
	var got []string
	for range want {
		as := rec.taken()
		if len(as) != 1 {
			t.Fatalf("assignments = %d, want 1", len(as))
		}
		got = append(got, as[0].ID)
		s.Complete(h, Result{ID: as[0].ID, Attempt: as[0].Attempt, OK: true})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestPriorityWithinQueue(t *testing.T) {
	s := newTestScheduler(t)
	ids := make([]string, 0, 4)
	ids = append(ids, submitTo(t, s, "", 0, 1)...)
	ids = append(ids, submitTo(t, s, "", 5, 1)...)
	ids = append(ids, submitTo(t, s, "", -3, 1)...)
	ids = append(ids, submitTo(t, s, "", 5, 1)...)
	_, rec := addQueueWorker(t, s, "w", 4, false)
	got := rec.taken()
	want := []string{ids[1], ids[3], ids[0], ids[2]}
	if len(got) != len(want) {
		t.Fatalf("assignments = %d, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i] {
			t.Errorf("assignment %d = %s, want %s (priority desc, then submission order)", i, got[i].ID, want[i])
		}
	}
	if task := mustGet(t, s, ids[1]); task.Queue != DefaultQueue || task.Priority != 5 {
		t.Errorf("task queue=%q priority=%d, want %q and 5", task.Queue, task.Priority, DefaultQueue)
	}
}

func TestWorkerOnlyServesItsQueues(t *testing.T) {
	s := newTestScheduler(t)
	_, rec := addQueueWorker(t, s, "w", 5, false, QueueWeight{"a", 1})
	submitTo(t, s, "b", 0, 2)
	if n := len(rec.taken()); n != 0 {
		t.Errorf("worker of queue a got %d tasks of queue b", n)
	}
	_, recB := addQueueWorker(t, s, "wb", 5, false, QueueWeight{"b", 1})
	if n := len(recB.taken()); n != 2 {
		t.Errorf("worker of queue b got %d tasks, want 2", n)
	}
}

func TestDelayedTaskRunsWhenDue(t *testing.T) {
	s := newTestScheduler(t)
	_, rec := addQueueWorker(t, s, "w", 1, false)
	runAt := time.Now().Add(150 * time.Millisecond)
	ids, err := s.Submit([]Spec{{Type: "echo", RunAt: runAt}})
	if err != nil {
		t.Fatal(err)
	}
	task := mustGet(t, s, ids[0])
	if task.Status != StatusScheduled || !task.RunAt.Equal(runAt) {
		t.Fatalf("status=%s run_at=%v, want scheduled at %v", task.Status, task.RunAt, runAt)
	}
	if st := s.Stats(); st.Scheduled != 1 || st.Queued != 0 {
		t.Errorf("stats scheduled=%d queued=%d, want 1 and 0", st.Scheduled, st.Queued)
	}
	if n := len(rec.taken()); n != 0 {
		t.Fatalf("scheduled task assigned before its run_at")
	}

	deadline := time.Now().Add(5 * time.Second)
	var got []Assignment
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		got = rec.taken()
	}
	if len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("assignments after run_at = %v, want task %s", got, ids[0])
	}
	if time.Now().Before(runAt) {
		t.Errorf("assigned before run_at %v", runAt)
	}
}

func TestDelayedTaskSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st := openBolt(t, dir)
	s, err := New(testConfig(st))
	if err != nil {
		t.Fatal(err)
	}
	runAt := time.Now().Add(300 * time.Millisecond)
	ids, err := s.Submit([]Spec{{Type: "echo", Queue: "later", Priority: 7, RunAt: runAt}})
	if err != nil {
		t.Fatal(err)
	}

	s2, _ := restart(t, s, st, dir)
	task := mustGet(t, s2, ids[0])
	if task.Status != StatusScheduled || task.Queue != "later" || task.Priority != 7 {
		t.Fatalf("after restart status=%s queue=%q priority=%d, want scheduled, later, 7", task.Status, task.Queue, task.Priority)
	}
	_, rec := addQueueWorker(t, s2, "w", 1, false, QueueWeight{"later", 1})
	deadline := time.Now().Add(5 * time.Second)
	var got []Assignment
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		got = rec.taken()
	}
	if len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("assignments = %v, want task %s once due", got, ids[0])
	}
}

func TestPauseKeepsRunningResumeFills(t *testing.T) {
	s := newTestScheduler(t)
	h, rec := addQueueWorker(t, s, "w", 1, false)
	ids := submitTo(t, s, "", 0, 3)
	running := rec.taken()
	if len(running) != 1 {
		t.Fatalf("assignments = %d, want 1", len(running))
	}
	if err := s.Pause(DefaultQueue); err != nil {
		t.Fatal(err)
	}
	s.Complete(h, Result{ID: running[0].ID, Attempt: running[0].Attempt, OK: true})
	if task := mustGet(t, s, ids[0]); task.Status != StatusSucceeded {
		t.Errorf("running task status after pause = %s, want succeeded", task.Status)
	}
	if n := len(rec.taken()); n != 0 {
		t.Fatalf("paused queue handed out %d tasks", n)
	}
	qs := s.Queues()
	if len(qs) != 1 || !qs[0].Paused || qs[0].Queued != 2 {
		t.Fatalf("queues = %+v, want default paused with 2 queued", qs)
	}

	if err := s.Resume(DefaultQueue); err != nil {
		t.Fatal(err)
	}
	got := rec.taken()
	if len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("after resume assignments = %v, want %s", got, ids[1])
	}
}

func TestPurge(t *testing.T) {
	s := newTestScheduler(t)
	_, rec := addQueueWorker(t, s, "w", 1, false, QueueWeight{"p", 1})
	ids := submitTo(t, s, "p", 0, 3)
	later, err := s.Submit([]Spec{{Type: "echo", Queue: "p", RunAt: time.Now().Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	other := submitTo(t, s, "q", 0, 1)
	rec.taken()

	n, err := s.Purge("p")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d, want 3 (two queued, one scheduled)", n)
	}
	for _, id := range append(ids[1:], later[0]) {
		if task := mustGet(t, s, id); task.Status != StatusCanceled {
			t.Errorf("task %s status = %s, want canceled", id, task.Status)
		}
	}
	if task := mustGet(t, s, ids[0]); task.Status != StatusRunning {
		t.Errorf("running task status = %s, want running", task.Status)
	}
	if task := mustGet(t, s, other[0]); task.Status != StatusQueued {
		t.Errorf("task of another queue status = %s, want queued", task.Status)
	}
	if st := s.Stats(); st.Queued != 1 || st.Scheduled != 0 {
		t.Errorf("stats queued=%d scheduled=%d, want 1 and 0", st.Queued, st.Scheduled)
	}
	for _, q := range s.Queues() {
		if q.Name == "p" && (q.Queued != 0 || q.Delayed != 0 || q.Bytes != 0 || q.Running != 1) {
			t.Errorf("queue p = %+v, want 0 queued, 0 delayed, 0 bytes, 1 running", q)
		}
	}
}

func TestPerQueueLimits(t *testing.T) {
	s := newTestScheduler(t, func(c *Config) {
		c.Queues = map[string]QueueLimits{"small": {MaxQueuedTasks: 2}, "tiny": {MaxQueuedBytes: 3}}
	})
	submitTo(t, s, "small", 0, 2)
	_, err := s.Submit([]Spec{{Type: "echo", Queue: "small"}})
	var le *LimitError
	if !errors.As(err, &le) || le.Queue != "small" || le.Setting != "max_queued_tasks" {
		t.Fatalf("third task in small: err = %v, want a max_queued_tasks limit of queue small", err)
	}
	if _, err := s.Submit([]Spec{{Type: "echo", Queue: "tiny", Payload: []byte("abcd")}}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("4 bytes into tiny: err = %v, want queue full", err)
	}
	submitTo(t, s, "other", 0, 5) // no limit of its own
}

func TestQueueValidation(t *testing.T) {
	s := newTestScheduler(t)
	cases := map[string]struct {
		spec  Spec
		field string
	}{
		"bad queue":     {Spec{Type: "echo", Queue: "a b"}, "queue"},
		"long queue":    {Spec{Type: "echo", Queue: string(make([]byte, 65))}, "queue"},
		"priority high": {Spec{Type: "echo", Priority: MaxPriority + 1}, "priority"},
		"priority low":  {Spec{Type: "echo", Priority: MinPriority - 1}, "priority"},
		"far run_at":    {Spec{Type: "echo", RunAt: time.Now().Add(MaxScheduleAhead + time.Hour)}, "run_at"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.Submit([]Spec{c.spec})
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != c.field {
				t.Errorf("err = %v, want invalid field %q", err, c.field)
			}
		})
	}
	for _, f := range []func(string) error{s.Pause, s.Resume} {
		var ie *InvalidError
		if err := f("no/slash"); !errors.As(err, &ie) || ie.Field != "queue" {
			t.Errorf("err = %v, want invalid field queue", err)
		}
	}
	bad := [][]QueueWeight{{{"a", 0}}, {{"a", MaxQueueWeight + 1}}, {{"a", 1}, {"a", 2}}, {{"", 1}}}
	for i, qs := range bad {
		if _, _, err := s.AddWorker(WorkerSpec{Name: fmt.Sprint("bad", i), Slots: 1, Queues: qs}, &recorder{}); err == nil {
			t.Errorf("AddWorker with queues %v accepted", qs)
		}
	}
}

func TestResumeUnknownQueueNotFound(t *testing.T) {
	s := newTestScheduler(t)
	if err := s.Pause("low"); err != nil {
		t.Fatalf("Pause low: %v", err)
	}
	err := s.Resume("lwo")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"lwo"`) {
		t.Errorf("Resume of an unknown queue: err = %v, want ErrNotFound naming \"lwo\"", err)
	}
	if err := s.Resume(DefaultQueue); err != nil {
		t.Errorf("Resume of the default queue, which is not paused: %v, want nil", err)
	}
	if err := s.Resume("low"); err != nil {
		t.Errorf("Resume low: %v", err)
	}
}
