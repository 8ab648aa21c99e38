package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestRolledBackClassifiesCommitErrors(t *testing.T) {
	write := func(errno syscall.Errno) error {
		return &os.PathError{Op: "write", Path: "/data/tasks.db", Err: errno}
	}
	cases := map[string]struct {
		err  error
		want bool
	}{
		"page write out of space":   {write(syscall.ENOSPC), true},
		"page write over quota":     {write(syscall.EDQUOT), true},
		"wrapped out of space":      {fmt.Errorf("commit: %w", write(syscall.ENOSPC)), true},
		"page write i/o error":      {write(syscall.EIO), false},
		"fdatasync i/o error":       {syscall.EIO, false},
		"fdatasync out of space":    {syscall.ENOSPC, false},
		"sync out of space":         {&os.PathError{Op: "sync", Path: "/data/tasks.db", Err: syscall.ENOSPC}, false},
		"grow error without a type": {errors.New("file resize error: truncate /data/tasks.db: file too large"), false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := rolledBack(c.err); got != c.want {
				t.Errorf("rolledBack(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
