package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 10)
	start := p.start
	p.now = func() time.Time { return start.Add(2 * time.Second) }

	p.update(5, 1)
	line := buf.String()
	for _, want := range []string{"[###############...............]", "5/10 done", "1 failed", "2/s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}

	buf.Reset()
	p.update(6, 1) // within 100 ms of the last draw
	if buf.Len() != 0 {
		t.Errorf("redrawn within 100 ms: %q", buf.String())
	}
	p.update(10, 1) // the last task always draws
	if !strings.Contains(buf.String(), "10/10 done") {
		t.Errorf("final line %q lacks 10/10 done", buf.String())
	}
}

func TestIsTerminalFalseForBuffer(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a bytes.Buffer reported as a terminal")
	}
}
