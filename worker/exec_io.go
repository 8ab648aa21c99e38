package worker

import (
	"bytes"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cappedBuffer collects a program's stdout up to max bytes. A write past the
// cap is rejected whole and calls onOverflow, so the program can be stopped.
// os/exec calls Write from one goroutine and joins it in Wait.
type cappedBuffer struct {
	max        int64
	onOverflow func()
	buf        bytes.Buffer
	overflowed bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if int64(b.buf.Len())+int64(len(p)) > b.max {
		if !b.overflowed {
			b.overflowed = true
			b.onOverflow()
		}
		return 0, errOutputTooLarge
	}
	return b.buf.Write(p)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		copy(t.buf, t.buf[over:])
		t.buf = t.buf[:t.max]
	}
	return n, nil
}

// String returns the kept bytes as trimmed text. A character cut in half at
// the start of the tail is dropped.
func (t *tailBuffer) String() string {
	return strings.TrimSpace(strings.ToValidUTF8(string(t.buf), ""))
}

// processGroup stops the process group of one exec attempt.
type processGroup struct {
	pgid  int
	grace time.Duration
	once  sync.Once
}

// terminate sends SIGTERM to every process in the group and SIGKILL grace
// later. Only the first call acts. Nothing is sent when the group is gone.
func (g *processGroup) terminate() {
	g.once.Do(func() {
		if err := syscall.Kill(-g.pgid, syscall.SIGTERM); err != nil {
			return // ESRCH: no process is left in the group
		}
		time.AfterFunc(g.grace, func() {
			_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
		})
	})
}
