package packaging

import (
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// dockerCluster is a master and workers as containers on a private network.
type dockerCluster struct {
	t       *testing.T
	image   string
	prefix  string
	network string
	api     *clustertest.API
}

func newDockerCluster(t *testing.T) *dockerCluster {
	image := os.Getenv("LBDTEST_IMAGE")
	if image == "" {
		image = "lbd:latest"
	}
	if _, err := dockerOutput("image", "inspect", image); err != nil {
		t.Fatalf("image %s not found: build it with make image: %v", image, err)
	}
	c := &dockerCluster{t: t, image: image, prefix: uniqueName("lbdt-")}
	c.network = c.prefix + "-net"
	docker(t, "network", "create", c.network)
	t.Cleanup(func() { dockerOutput("network", "rm", c.network) })
	return c
}

// run starts a container with only LBD_* variables and returns its name.
func (c *dockerCluster) run(name string, extra []string, env ...string) string {
	c.t.Helper()
	full := c.prefix + "-" + name
	args := []string{"run", "-d", "--name", full, "--hostname", name, "--network", c.network,
		"--network-alias", name, "--health-interval", "1s", "--health-start-period", "1s"}
	args = append(args, extra...)
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	args = append(args, c.image)
	c.t.Cleanup(func() {
		if c.t.Failed() {
			logs, _ := osexec.Command("docker", "logs", "--tail", "60", full).CombinedOutput()
			c.t.Logf("last lines of %s:\n%s", full, logs)
		}
		dockerOutput("rm", "-f", "-v", full)
	})
	docker(c.t, args...)
	return full
}

func (c *dockerCluster) worker(name string) string {
	return c.run(name, nil, "LBD_ROLE=worker", "LBD_NODE="+name, "LBD_JOIN=master:7946",
		"LBD_BUILTINS=echo,sleep", "LBD_POPULATION=2", "LBD_LOG_LEVEL=debug")
}

func (c *dockerCluster) health(container string) string {
	out, _ := dockerOutput("inspect", "-f", "{{.State.Health.Status}}", container)
	return out
}

func TestContainerCluster(t *testing.T) {
	requireDocker(t, "LBDTEST_CONTAINER", "container-test")
	c := newDockerCluster(t)

	// The API is reached through a port published on loopback only.
	master := c.run("master", []string{"-p", "127.0.0.1::7948"},
		"LBD_ROLE=master", "LBD_NODE=master", "LBD_DURABILITY=none")
	hostPort := docker(t, "port", master, "7948/tcp")
	c.api = &clustertest.API{Addr: hostPort[strings.LastIndex(hostPort, "\n")+1:]}
	c.api.WaitHealthy(t, 30*time.Second)
	w1, w2 := c.worker("w1"), c.worker("w2")
	c.api.WaitWorkers(t, 2, 30*time.Second)
	for _, name := range []string{master, w1} {
		if !waitUntil(30*time.Second, func() bool { return c.health(name) == "healthy" }) {
			t.Errorf("HEALTHCHECK of %s = %q, want healthy", name, c.health(name))
		}
	}

	reqs := make([]clustertest.TaskRequest, 40)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "sleep", Payload: "1500ms"}
	}
	ids := c.api.SubmitBatch(t, reqs)

	// A worker started during the batch takes tasks.
	c.worker("w3")
	if !waitUntil(30*time.Second, func() bool { return len(c.tasksOn(ids, "w3", "")) > 0 }) {
		t.Error("w3, started during the batch, ran no task within 30s")
	}

	// docker kill: the tasks running on w1 finish on another worker.
	var onW1 []string
	waitUntil(20*time.Second, func() bool { onW1 = c.tasksOn(ids, "w1", "running"); return len(onW1) > 0 })
	if len(onW1) == 0 {
		t.Fatal("w1 runs no task, so killing it proves nothing")
	}
	docker(t, "kill", w1)

	// docker stop: w2 drains its running tasks and exits 0 in time.
	var onW2 []string
	waitUntil(20*time.Second, func() bool { onW2 = c.tasksOn(ids, "w2", "running"); return len(onW2) > 0 })
	if len(onW2) == 0 {
		t.Fatal("w2 runs no task, so stopping it proves nothing")
	}
	start := time.Now()
	docker(t, "stop", "--time", "45", w2)
	took := time.Since(start)
	t.Logf("docker stop of w2 with %d running tasks took %s", len(onW2), took.Round(time.Millisecond))
	if code := docker(t, "inspect", "-f", "{{.State.ExitCode}}", w2); code != "0" {
		t.Errorf("w2 exit code after docker stop = %s, want 0 (drained, not killed)", code)
	}
	if took >= 45*time.Second {
		t.Errorf("docker stop of w2 took %s, want less than the 45s grace period", took)
	}

	tasks := c.api.WaitFinal(t, ids, 3*time.Minute)
	byID := map[string]clustertest.Task{}
	for i, task := range tasks {
		byID[task.ID] = task
		if task.Status != "succeeded" {
			t.Errorf("task %d %s = %s (%s), want succeeded", i, task.ID, task.Status, task.Error)
		}
	}
	for _, id := range onW1 {
		if task := byID[id]; task.Worker == "w1" {
			t.Errorf("task %s ran on w1 when it was killed, and its result came from w1", id)
		}
	}
	for _, id := range onW2 {
		if task := byID[id]; task.Worker != "w2" || task.Attempts != 1 {
			t.Errorf("task %s ran on w2 when it was stopped: worker %s, attempts %d, want w2 with 1 attempt (drained)",
				id, task.Worker, task.Attempts)
		}
	}
}

// tasksOn returns the ids of tasks whose worker is name, and whose status is
// status unless status is "".
func (c *dockerCluster) tasksOn(ids []string, name, status string) []string {
	var out []string
	for _, id := range ids {
		var task clustertest.Task
		if code, err := c.api.Do("GET", "/v1/tasks/"+id, nil, &task); err != nil || code != 200 {
			continue
		}
		if task.Worker == name && (status == "" || task.Status == status) {
			out = append(out, id)
		}
	}
	return out
}
