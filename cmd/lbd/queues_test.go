package main

import (
	"encoding/json"
	"testing"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/scheduler"
)

func TestQueueCommands(t *testing.T) {
	addr, sched := startMaster(t, false)
	runCLI("queue", "pause", "-http-addr", addr, "default").checkOut(t, exitOK, "queue default paused")
	if _, err := sched.Submit([]scheduler.Spec{{Type: "echo", Payload: []byte("ab")}, {Type: "echo"}}); err != nil {
		t.Fatal(err)
	}

	r := runCLI("queues", "-http-addr", addr)
	want := "QUEUE             QUEUED  DELAYED  RUNNING  BYTES\n" +
		"default (paused)  2       0        0        2\n"
	if r.code != exitOK || r.stdout != want {
		t.Errorf("lbd queues exit %d output\n%s\nwant\n%s(stderr %q)", r.code, r.stdout, want, r.stderr)
	}

	runCLI("queue", "purge", "-http-addr", addr, "default").checkOut(t, exitUsage, "add -yes")
	r = runCLI("queue", "purge", "-http-addr", addr, "-yes", "-json", "default")
	r.checkOut(t, exitOK)
	var out api.QueueActionResponse
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("output %q is not JSON: %v", r.stdout, err)
	}
	if out.Purged != 2 || out.Queue != "default" {
		t.Errorf("purge output %+v, want 2 purged from default", out)
	}
	runCLI("queue", "resume", "-http-addr", addr, "default").checkOut(t, exitOK, "queue default resumed")
	if qs := sched.Queues(); len(qs) != 1 || qs[0].Paused || qs[0].Queued != 0 {
		t.Errorf("queues after purge and resume = %+v, want default empty and not paused", qs)
	}
}

func TestQueueCommandErrors(t *testing.T) {
	addr, _ := startMaster(t, false)
	runCLI("queue").checkOut(t, exitUsage, "missing action")
	runCLI("queue", "drop", "x").checkOut(t, exitUsage, `unknown action "drop"`)
	runCLI("queue", "pause", "-http-addr", addr).checkOut(t, exitUsage, "missing queue name")
	runCLI("queue", "pause", "-http-addr", addr, "bad name").checkOut(t, exitRejected, "queue:")
	runCLI("queues", "-http-addr", closedAddr(t)).checkOut(t, exitUnreachable, "master unreachable")
	runCLI("queue", "resume", "-h").checkOut(t, exitOK, "usage: lbd queue")
}
