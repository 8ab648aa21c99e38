package scheduler

import (
	"container/heap"
	"fmt"
)

// MaxListLimit is the largest page that List returns.
const MaxListLimit = 1000

// ListQuery selects and orders the tasks that List returns.
type ListQuery struct {
	Status Status // "" for every status
	Type   string // "" for every type
	Limit  int    // 1 to MaxListLimit
	// After is the id of the last task of the previous page, "" for the
	// first page. Ids sort in the order of submission.
	After string
	// Oldest returns the oldest submitted task first; the default is the
	// newest first.
	Oldest bool
}

// ListPage is one page of tasks.
type ListPage struct {
	Tasks []Task
	// Next is the After of the next page, "" when this page is the last.
	Next string
}

// List returns the tasks that match q, ordered by submission, newest first
// unless q.Oldest is set. It scans every task with the lock held and keeps
// the best q.Limit of them in a heap, so a call costs O(N log Limit) for N
// tasks held.
func (s *Scheduler) List(q ListQuery) (ListPage, error) {
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return ListPage{}, &InvalidError{Index: -1, Field: "limit",
			Reason: fmt.Sprintf("%d is out of range 1..%d", q.Limit, MaxListLimit)}
	}
	if q.Status != "" && !knownStatus(q.Status) {
		return ListPage{}, &InvalidError{Index: -1, Field: "status",
			Reason: fmt.Sprintf("%q is not a task status: use queued, scheduled, running, retrying, succeeded, failed or canceled", q.Status)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The heap keeps Limit+1 tasks so that a full page knows whether
	// another follows.
	h := &pageHeap{oldest: q.Oldest}
	for _, t := range s.tasks {
		if !q.matches(t) {
			continue
		}
		if h.Len() <= q.Limit {
			heap.Push(h, t)
		} else if h.before(t, h.ts[0]) {
			h.ts[0] = t
			heap.Fix(h, 0)
		}
	}

	more := h.Len() > q.Limit
	if more {
		heap.Pop(h) // the first task of the next page
	}
	page := ListPage{Tasks: make([]Task, h.Len())}
	for i := h.Len() - 1; i >= 0; i-- {
		page.Tasks[i] = heap.Pop(h).(*task).snapshot()
	}
	if more {
		page.Next = page.Tasks[len(page.Tasks)-1].ID
	}
	return page, nil
}

func (q *ListQuery) matches(t *task) bool {
	if t.pending || (q.Status != "" && t.status != q.Status) || (q.Type != "" && t.typ != q.Type) {
		return false
	}
	if q.After == "" {
		return true
	}
	if q.Oldest {
		return t.id > q.After
	}
	return t.id < q.After
}

func knownStatus(st Status) bool {
	switch st {
	case StatusQueued, StatusScheduled, StatusRunning, StatusRetrying, StatusSucceeded, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// pageHeap holds the tasks of a page with the one that comes last in page
// order at the top, so that a better task replaces it.
type pageHeap struct {
	ts     []*task
	oldest bool
}

// before reports whether a comes before b in page order. Ids of equal
// length sort like their sequence numbers.
func (h *pageHeap) before(a, b *task) bool {
	if h.oldest {
		return a.seq < b.seq
	}
	return a.seq > b.seq
}

func (h *pageHeap) Len() int           { return len(h.ts) }
func (h *pageHeap) Less(i, j int) bool { return h.before(h.ts[j], h.ts[i]) }
func (h *pageHeap) Swap(i, j int)      { h.ts[i], h.ts[j] = h.ts[j], h.ts[i] }
func (h *pageHeap) Push(x any)         { h.ts = append(h.ts, x.(*task)) }
func (h *pageHeap) Pop() any {
	n := len(h.ts) - 1
	t := h.ts[n]
	h.ts[n] = nil
	h.ts = h.ts[:n]
	return t
}
