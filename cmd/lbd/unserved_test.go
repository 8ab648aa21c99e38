package main

import (
	"context"
	"strings"
	"testing"

	"github.com/lbd-dev/lbd/client"
)

func TestWarnUnservedNamesMissingType(t *testing.T) {
	addr, _ := startMaster(t, true)
	var out strings.Builder
	warnUnserved(context.Background(), client.New(addr), []string{"other", "echo", "other"}, &out)

	got := out.String()
	if strings.Count(got, `type "other"`) != 1 {
		t.Errorf("note = %q, want one line naming type \"other\"", got)
	}
	if strings.Contains(got, `"echo"`) {
		t.Errorf("note = %q names echo, which a connected worker runs", got)
	}
}

func TestWarnUnservedSilentWhenUnreachable(t *testing.T) {
	var out strings.Builder
	warnUnserved(context.Background(), client.New("127.0.0.1:1"), []string{"other"}, &out)
	if out.Len() != 0 {
		t.Errorf("note = %q, want nothing when the master cannot be reached", out.String())
	}
}
