package scheduler

import "slices"

// taskQueue holds the queued tasks of one lane in the order they are handed
// out: higher priority first, then lower sequence number (submission
// order). Push, remove and top cost O(1) for tasks that arrive in
// submission order, which is nearly all of them, and O(log n) for the
// others, such as retries and delayed tasks that fall due.
type taskQueue struct {
	levels []*priorityLevel // non-empty levels, highest priority first
	n      int
}

// priorityLevel holds the queued tasks of one priority. Tasks whose
// sequence number is above every task appended so far go to fifo, which is
// therefore sorted. The others go to late, a heap ordered by sequence
// number. The next task is the lower of the two heads.
type priorityLevel struct {
	priority int
	fifo     []*task // fifo[head:] in ascending seq; removed tasks leave nil
	head     int
	live     int    // non-nil entries in fifo[head:]
	lastSeq  uint64 // seq of the task appended to fifo last
	late     []*task
}

func (q *taskQueue) len() int { return q.n }

// top returns the task handed out next; the queue must not be empty.
func (q *taskQueue) top() *task { return q.levels[0].top() }

// push adds t, which must not be in any queue.
func (q *taskQueue) push(t *task) {
	lv := q.level(t.priority)
	if lv.live == 0 || t.seq > lv.lastSeq {
		if lv.live == 0 {
			lv.fifo, lv.head = lv.fifo[:0], 0
		}
		t.queuePos = len(lv.fifo)
		t.late = false
		lv.fifo = append(lv.fifo, t)
		lv.live++
		lv.lastSeq = t.seq
	} else {
		t.late = true
		lv.pushLate(t)
	}
	q.n++
}

// remove takes t out of the queue; t must be in it.
func (q *taskQueue) remove(t *task) {
	i := q.index(t.priority)
	lv := q.levels[i]
	if t.late {
		lv.removeLate(t.queuePos)
	} else {
		lv.fifo[t.queuePos] = nil
		lv.live--
		lv.advance()
	}
	t.queuePos = -1
	q.n--
	if lv.live == 0 && len(lv.late) == 0 {
		q.levels = slices.Delete(q.levels, i, i+1)
	}
}

// all appends every queued task to out, in no particular order.
func (q *taskQueue) all(out []*task) []*task {
	for _, lv := range q.levels {
		for _, t := range lv.fifo[lv.head:] {
			if t != nil {
				out = append(out, t)
			}
		}
		out = append(out, lv.late...)
	}
	return out
}

// level returns the level of priority p, adding an empty one if needed.
func (q *taskQueue) level(p int) *priorityLevel {
	i, found := q.search(p)
	if !found {
		q.levels = slices.Insert(q.levels, i, &priorityLevel{priority: p})
	}
	return q.levels[i]
}

// index returns the position of the level of priority p, which must exist.
func (q *taskQueue) index(p int) int {
	i, found := q.search(p)
	if !found {
		panic("scheduler: task queue has no level for a queued task's priority")
	}
	return i
}

// search finds the level of priority p in levels, which are sorted by
// priority in descending order; there are rarely more than a few.
func (q *taskQueue) search(p int) (int, bool) {
	for i, lv := range q.levels {
		if lv.priority == p {
			return i, true
		}
		if lv.priority < p {
			return i, false
		}
	}
	return len(q.levels), false
}

func (lv *priorityLevel) top() *task {
	var first *task
	if lv.live > 0 {
		first = lv.fifo[lv.head]
	}
	if len(lv.late) > 0 && (first == nil || lv.late[0].seq < first.seq) {
		first = lv.late[0]
	}
	return first
}

// advance moves head past removed entries, and moves the live entries to
// the front of fifo once the removed ones before them take more room than
// the live ones. A move copies fewer entries than were removed since the
// last one, so the cost per task stays O(1) on average.
func (lv *priorityLevel) advance() {
	for lv.head < len(lv.fifo) && lv.fifo[lv.head] == nil {
		lv.head++
	}
	if lv.live == 0 {
		clear(lv.fifo)
		lv.fifo, lv.head = lv.fifo[:0], 0
		if cap(lv.fifo) > 1024 {
			lv.fifo = nil // a burst's array goes back to the collector
		}
		return
	}
	if lv.head < 1024 || lv.head < len(lv.fifo)/2 {
		return
	}
	n := copy(lv.fifo, lv.fifo[lv.head:])
	clear(lv.fifo[n:])
	lv.fifo = lv.fifo[:n]
	lv.head = 0
	for i, t := range lv.fifo {
		if t != nil {
			t.queuePos = i
		}
	}
}

// The late heap keeps each task's index in queuePos.

func (lv *priorityLevel) pushLate(t *task) {
	t.queuePos = len(lv.late)
	lv.late = append(lv.late, t)
	lv.up(t.queuePos)
}

func (lv *priorityLevel) removeLate(i int) {
	h := lv.late
	last := len(h) - 1
	if i != last {
		h[i] = h[last]
		h[i].queuePos = i
	}
	h[last] = nil
	lv.late = h[:last]
	if i != last {
		lv.down(i)
		lv.up(i)
	}
}

func (lv *priorityLevel) up(i int) {
	h := lv.late
	for i > 0 {
		p := (i - 1) / 2
		if h[p].seq <= h[i].seq {
			return
		}
		lv.swap(p, i)
		i = p
	}
}

func (lv *priorityLevel) down(i int) {
	h := lv.late
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].seq < h[l].seq {
			m = r
		}
		if h[i].seq <= h[m].seq {
			return
		}
		lv.swap(i, m)
		i = m
	}
}

func (lv *priorityLevel) swap(i, j int) {
	h := lv.late
	h[i], h[j] = h[j], h[i]
	h[i].queuePos = i
	h[j].queuePos = j
}
