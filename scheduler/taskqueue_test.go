package scheduler

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTaskQueueMatchesSortedOrder runs random pushes, removals and pops
// against a reference that sorts every queued task by priority and
// sequence number.
func TestTaskQueueMatchesSortedOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q taskQueue
	var ref []*task // the queued tasks, unordered
	var nextSeq uint64 = 1000
	used := map[uint64]bool{} // sequence numbers are unique, as task ids are
	priorities := []int{-5, 0, 0, 0, 3, 7}

	sortRef := func() {
		slices.SortFunc(ref, func(a, b *task) int {
			if a.priority != b.priority {
				return b.priority - a.priority
			}
			if a.seq < b.seq {
				return -1
			}
			return 1
		})
	}
	for step := range 200_000 {
		switch op := rng.IntN(10); {
		case op < 5: // a new task, or an old one again, as a retry would be
			seq := nextSeq
			if rng.IntN(4) == 0 {
				seq = uint64(rng.IntN(int(nextSeq)))
			}
			if used[seq] {
				continue
			}
			used[seq] = true
			if seq == nextSeq {
				nextSeq++
			}
			tk := &task{seq: seq, priority: priorities[rng.IntN(len(priorities))]}
			q.push(tk)
			ref = append(ref, tk)
		case op < 7 && len(ref) > 0: // cancel one anywhere in the queue
			i := rng.IntN(len(ref))
			q.remove(ref[i])
			ref = slices.Delete(ref, i, i+1)
		case len(ref) > 0: // hand out the first
			sortRef()
			got := q.top()
			if got != ref[0] {
				t.Fatalf("step %d: top is seq %d priority %d, want seq %d priority %d",
					step, got.seq, got.priority, ref[0].seq, ref[0].priority)
			}
			q.remove(got)
			ref = ref[1:]
		}
		if q.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, q.len(), len(ref))
		}
	}

	if all := q.all(nil); len(all) != len(ref) {
		t.Errorf("all returned %d tasks, want %d", len(all), len(ref))
	}
	sortRef()
	for i, want := range ref {
		got := q.top()
		if got != want {
			t.Fatalf("drain %d: top is seq %d, want seq %d", i, got.seq, want.seq)
		}
		q.remove(got)
	}
	if q.len() != 0 || len(q.levels) != 0 {
		t.Errorf("after draining: len %d with %d levels, want 0 and 0", q.len(), len(q.levels))
	}
}

// TestTaskQueueCompactsFIFO checks that a long run in submission order keeps
// positions right when the fifo moves its entries to the front.
func TestTaskQueueCompactsFIFO(t *testing.T) {
	var q taskQueue
	var tasks []*task
	for i := range 10_000 {
		tk := &task{seq: uint64(i + 1)}
		tasks = append(tasks, tk)
		q.push(tk)
	}
	for i := range 9_000 { // past the compaction threshold
		if got := q.top(); got != tasks[i] {
			t.Fatalf("pop %d: seq %d, want %d", i, got.seq, tasks[i].seq)
		}
		q.remove(tasks[i])
	}
	q.remove(tasks[9_500]) // by position after the move
	for i := 9_000; i < 10_000; i++ {
		if i == 9_500 {
			continue
		}
		if got := q.top(); got != tasks[i] {
			t.Fatalf("pop %d after compaction: seq %d, want %d", i, got.seq, tasks[i].seq)
		}
		q.remove(tasks[i])
	}
	if q.len() != 0 {
		t.Errorf("len %d after removing every task, want 0", q.len())
	}
}

func TestFinishedQueueKeepsOrderAcrossChunks(t *testing.T) {
	var q finishedQueue
	var tasks []*task
	next, popped := 0, 0
	// Push and pop in waves so that the queue empties, refills and spans
	// several chunks.
	for _, wave := range []struct{ push, pop int }{{10, 10}, {3000, 1000}, {5000, 6500}, {1, 501}} {
		for range wave.push {
			tk := &task{seq: uint64(next)}
			tasks = append(tasks, tk)
			q.push(finishedEntry{t: tk})
			next++
		}
		for range wave.pop {
			if got := q.front().t; got != tasks[popped] {
				t.Fatalf("front is task %d, want %d", got.seq, popped)
			}
			q.pop()
			popped++
		}
		if q.len() != next-popped {
			t.Fatalf("len %d after the wave, want %d", q.len(), next-popped)
		}
	}
	if q.len() != 0 || len(q.chunks) != 1 {
		t.Errorf("emptied queue has len %d and %d chunks, want 0 and 1", q.len(), len(q.chunks))
	}
}
