package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"sync/atomic"
	"time"
)

// newStdLogger returns a *log.Logger for memberlist that maps its level
// prefixes ([DEBUG], [INFO], [WARN], [ERR]) to slog levels.
func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(&levelWriter{log: l}, "", 0)
}

type levelWriter struct {
	log *slog.Logger

	// lastMismatch is the Unix time in nanoseconds when a key mismatch was
	// last logged at error level. Repeats within mismatchLogEvery go to
	// debug, so a peer that keeps retrying with a wrong key cannot flood
	// the log.
	lastMismatch atomic.Int64
}

// mismatchLogEvery bounds how often a gossip key mismatch is logged at
// error level.
const mismatchLogEvery = 10 * time.Second

var levelPrefixes = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG] "), slog.LevelDebug},
	{[]byte("[INFO] "), slog.LevelInfo},
	{[]byte("[WARN] "), slog.LevelWarn},
	{[]byte("[ERR] "), slog.LevelError},
	{[]byte("[ERROR] "), slog.LevelError},
}

func (w *levelWriter) Write(p []byte) (int, error) {
	msg := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if bytes.HasPrefix(msg, lp.prefix) {
			level = lp.level
			msg = msg[len(lp.prefix):]
			break
		}
	}
	msg = bytes.TrimPrefix(msg, []byte("memberlist: "))
	if isKeyMismatch(string(msg)) {
		w.logMismatch(string(msg))
		return len(p), nil
	}
	w.log.Log(context.Background(), level, string(msg))
	return len(p), nil
}

func (w *levelWriter) logMismatch(detail string) {
	level := slog.LevelError
	now := time.Now().UnixNano()
	if last := w.lastMismatch.Load(); last != 0 && now-last < int64(mismatchLogEvery) {
		level = slog.LevelDebug
	} else {
		w.lastMismatch.Store(now)
	}
	w.log.Log(context.Background(), level,
		ErrKeyMismatch.Error()+": a peer's gossip was not encrypted with a key of this node's keyring, or this node has none",
		"detail", detail, "fix", keyMismatchHint)
}
