package daemon

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestServerErrorLogLimitsLines(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.NewLogLogger(newServerErrorLog(slog.NewTextHandler(&buf, nil)), slog.LevelWarn)
	for range 3 * errorLogBurst {
		logger.Print("http: TLS handshake error from 127.0.0.1:1: EOF\n")
	}
	lines := strings.Count(buf.String(), "\n")
	if lines != errorLogBurst {
		t.Errorf("%d lines logged of %d in one window, want %d", lines, 3*errorLogBurst, errorLogBurst)
	}
	if !strings.Contains(buf.String(), `msg="http: TLS handshake error from 127.0.0.1:1: EOF"`) {
		t.Errorf("message not logged as written, without its newline:\n%s", buf.String())
	}
}

func TestLimitListenerWaitsAtLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 1, slog.New(slog.DiscardHandler))
	defer ln.Close()

	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	first := <-accepted
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted with a limit of 1")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close must not free a second slot
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not accepted after the first closed")
	}
	// The accept loop waits in Accept again and holds the one slot for
	// the connection it will accept, so both closed ones gave theirs back.
	time.Sleep(50 * time.Millisecond)
	if n := len(ln.slots); n != 1 {
		t.Errorf("%d slots in use after both connections closed and Accept waits again, want 1", n)
	}
}
