package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressWidth is the number of cells of the bar.
const progressWidth = 30

// progress draws one line that a terminal redraws in place: a bar, the
// finished and failed tasks and the rate since the start.
type progress struct {
	w     io.Writer
	total int
	start time.Time
	drawn time.Time
	now   func() time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now(), now: time.Now}
}

// update redraws the line at most ten times a second, and always for the
// last task.
func (p *progress) update(done, failed int) {
	now := p.now()
	if done < p.total && now.Sub(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = now
	filled := 0
	if p.total > 0 {
		filled = min(progressWidth, done*progressWidth/p.total)
	}
	rate := 0.0
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		rate = float64(done) / secs
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d done, %d failed, %.0f/s",
		strings.Repeat("#", filled), strings.Repeat(".", progressWidth-filled), done, p.total, failed, rate)
}

// clear erases the line, before other output and at the end.
func (p *progress) clear() {
	fmt.Fprint(p.w, "\r\033[K")
}
