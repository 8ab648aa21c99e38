package config

import (
	"strings"
	"testing"
)

func TestQueuesFileObjectKeepsOrder(t *testing.T) {
	path := writeConfig(t, `role = "worker"
worker {
  queues = { low = 1, critical = 6, default = 3 }
  strict_order = true
  builtins = ["echo"]
}
queue "low" {
  max_queued_tasks = 10
  max_queued_bytes = "1MiB"
}
`)
	c := mustLoad(t, []string{"-config", path})
	if c.Worker.Queues != "low=1,critical=6,default=3" {
		t.Errorf("queues = %q, want the file order low=1,critical=6,default=3", c.Worker.Queues)
	}
	if !c.Worker.StrictOrder {
		t.Error("strict_order = false, want true")
	}
	if got := c.Queues["low"]; got.MaxQueuedTasks != 10 || got.MaxQueuedBytes != 1<<20 {
		t.Errorf(`queue "low" limits = %+v, want 10 tasks and 1MiB`, got)
	}
	if s := c.String(); !strings.Contains(s, `queue "low" {`) || !strings.Contains(s, `queues = "low=1,critical=6,default=3"`) {
		t.Errorf("String() misses the queue settings:\n%s", s)
	}
}

func TestQueuesFromFlagAndEnv(t *testing.T) {
	c := mustLoad(t, []string{"-role", "worker", "-builtins", "echo", "-queues", "critical=6, default=3,low"})
	if c.Worker.Queues != "critical=6,default=3,low=1" {
		t.Errorf("queues from flag = %q, want critical=6,default=3,low=1", c.Worker.Queues)
	}
	c = mustLoad(t, []string{"-role", "worker", "-builtins", "echo"}, "LBD_QUEUES=a=2,b=5")
	qs, err := ParseQueues(c.Worker.Queues)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0] != (QueueWeight{"a", 2}) || qs[1] != (QueueWeight{"b", 5}) {
		t.Errorf("queues from LBD_QUEUES = %+v, want a=2 then b=5", qs)
	}
}

func TestQueuesInvalid(t *testing.T) {
	cases := map[string]string{
		"zero weight":   "a=0",
		"big weight":    "a=1001",
		"not a number":  "a=x",
		"bad name":      "a b=1",
		"duplicate":     "a=1,a=2",
		"empty":         ",",
		"long name":     strings.Repeat("q", 65) + "=1",
		"negative":      "a=-1",
		"missing name":  "=3",
		"only a weight": "3",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadWith(t, []string{"-role", "worker", "-builtins", "echo", "-queues", text})
			if name == "only a weight" {
				// "3" is a valid queue name with weight 1.
				if err != nil {
					t.Errorf("-queues %q: %v, want accepted", text, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("-queues %q accepted", text)
			}
			if !strings.Contains(err.Error(), "-queues") {
				t.Errorf("error %q does not name -queues", err)
			}
		})
	}
}

func TestQueueBlockInvalid(t *testing.T) {
	path := writeConfig(t, `queue "bad name" {
  max_queued_tasks = 0
}
worker {
  queues = { a = 0 }
}
`)
	_, err := loadWith(t, []string{"-config", path, "-role", "master"})
	ps := problemsOf(t, err)
	rel := func(p string) string { return relPos(path, p) }
	for _, want := range []struct{ pos, msg string }{
		{"lbd.hcl:1:7", `invalid queue name "bad name"`},
		{"lbd.hcl:2:3", "max_queued_tasks"},
		{"lbd.hcl:5:3", "invalid weight"},
	} {
		if _, ok := findProblem(ps, want.pos, want.msg, rel); !ok {
			t.Errorf("want a problem at %s containing %q, got:%s", want.pos, want.msg, formatProblems(ps))
		}
	}
}
