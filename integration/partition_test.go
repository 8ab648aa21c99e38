package integration

import (
	"strconv"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// netCluster is a master and workers, each in its own network namespace.
type netCluster struct {
	net     *clustertest.Net
	api     *clustertest.API
	workers map[string]*clustertest.Proc
}

func startNetCluster(t *testing.T, workers ...string) *netCluster {
	t.Helper()
	n := clustertest.NewNet(t)
	mip := n.AddHost("m")
	n.StartIn(t, "m", "master", nil,
		"-role", "master", "-node", "master",
		"-bind", mip+":7946", "-task-addr", mip+":7947", "-http-addr", mip+":7948",
		"-data-dir", t.TempDir(), "-log-level", "debug")
	c := &netCluster{net: n, api: &clustertest.API{Addr: mip + ":7948"}, workers: map[string]*clustertest.Proc{}}
	c.api.WaitHealthy(t, 15*time.Second)

	for _, w := range workers {
		ip := n.AddHost(w)
		c.workers[w] = n.StartIn(t, w, w, echoEnv,
			"-role", "worker", "-node", w, "-bind", ip+":7946", "-join", mip+":7946",
			"-population", "1", "-log-level", "debug")
	}
	c.api.WaitWorkers(t, len(workers), 20*time.Second)
	return c
}

func TestCutOffWorkerWrittenOffAndBack(t *testing.T) {
	skipShort(t)
	c := startNetCluster(t, "w1", "w2")

	id := c.api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "3s"}})[0]
	first := waitRunning(t, c.api, id, "", 5*time.Second)

	c.net.Cut(first.Worker)
	cut := time.Now()
	second := waitRunning(t, c.api, id, first.Worker, 15*time.Second)
	moved := time.Since(cut)
	t.Logf("cut-off worker %s written off; task running on %s %s after the cut", first.Worker, second.Worker, moved)
	if moved > 6*time.Second {
		t.Errorf("task moved %s after the cut, want within the 2s heartbeat timeout plus margin", moved)
	}

	time.Sleep(4 * time.Second) // the cut-off attempt ends meanwhile
	c.net.Heal(first.Worker)
	final := c.api.WaitFinal(t, []string{id}, 30*time.Second)[0]
	if final.Status != "succeeded" || final.Worker != second.Worker {
		t.Errorf("task = %s on %s, want succeeded on %s", final.Status, final.Worker, second.Worker)
	}

	// The healed worker reconnects, learns its attempt is stale, and gets
	// work again; the recorded result does not change.
	c.api.WaitWorkers(t, 2, 30*time.Second)
	reqs := make([]clustertest.TaskRequest, 20)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "sleep", Payload: "100ms"}
	}
	count := map[string]int{}
	for _, task := range c.api.WaitFinal(t, c.api.SubmitBatch(t, reqs), time.Minute) {
		count[task.Worker]++
	}
	if count[first.Worker] == 0 {
		t.Errorf("healed worker %s ran no task after it came back: %v", first.Worker, count)
	}
	if again := c.api.Get(t, id); again.Worker != final.Worker || again.Finished != final.Finished {
		t.Errorf("recorded result changed after the stale worker returned: %+v, was %+v", again, final)
	}
}

func TestLongPartitionHeals(t *testing.T) {
	skipShort(t)
	c := startNetCluster(t, "w1", "w2")

	// 65 s is longer than memberlist's GossipToTheDeadTime (30 s in its
	// LAN profile), after which nodes stop gossiping about the dead.
	c.net.Cut("w1")
	c.net.Cut("w2")
	time.Sleep(65 * time.Second)
	if n := len(c.api.Workers(t)); n != 0 {
		t.Errorf("%d workers still connected during the partition, want 0", n)
	}
	healed := time.Now()
	c.net.Heal("w1")
	c.net.Heal("w2")

	c.api.WaitWorkers(t, 2, 45*time.Second)
	t.Logf("both workers connected again %s after the partition healed", time.Since(healed))

	reqs := make([]clustertest.TaskRequest, 10)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "echo", Payload: strconv.Itoa(i)}
	}
	count := map[string]int{}
	for i, task := range c.api.WaitFinal(t, c.api.SubmitBatch(t, reqs), time.Minute) {
		if task.Status != "succeeded" || task.Output != strconv.Itoa(i) {
			t.Errorf("task %d = %s %q, want succeeded", i, task.Status, task.Output)
		}
		count[task.Worker]++
	}
	if count["w1"]+count["w2"] != 10 {
		t.Errorf("tasks per worker = %v, want all 10 on w1 and w2", count)
	}
}
