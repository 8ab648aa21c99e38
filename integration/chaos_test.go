package integration

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/internal/clustertest"
)

// waitRunning polls until the task runs (on another worker than not, when
// not is set) and returns it.
func waitRunning(t *testing.T, api *clustertest.API, id, not string, timeout time.Duration) clustertest.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task := api.Get(t, id)
		if task.Status == "running" && task.Worker != "" && task.Worker != not {
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s not running elsewhere than %q within %s: %+v", id, not, timeout, task)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWorkerKilledTaskRunsElsewhere(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	workers := map[string]*clustertest.Proc{
		"w1": c.StartWorker("w1", echoEnv, "-population", "1"),
		"w2": c.StartWorker("w2", echoEnv, "-population", "1"),
	}
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "2s"}})[0]
	first := waitRunning(t, api, id, "", 5*time.Second)
	time.Sleep(300 * time.Millisecond)

	killed := time.Now()
	workers[first.Worker].Signal(syscall.SIGKILL)
	second := waitRunning(t, api, id, first.Worker, 5*time.Second)
	moved := time.Since(killed)
	t.Logf("task moved from %s to %s %s after SIGKILL", first.Worker, second.Worker, moved)
	if moved > 2*time.Second {
		t.Errorf("task restarted %s after its worker was killed, want well under 2s (connection close is seen at once)", moved)
	}

	final := api.WaitFinal(t, []string{id}, 30*time.Second)[0]
	if final.Status != "succeeded" || final.Attempts != 2 || final.Worker != second.Worker {
		t.Errorf("task = %s after %d attempts on %s, want succeeded after 2 on %s", final.Status, final.Attempts, final.Worker, second.Worker)
	}
}

func TestWorkerStoppedBrieflyKeepsTask(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	workers := map[string]*clustertest.Proc{
		"w1": c.StartWorker("w1", echoEnv, "-population", "1"),
		"w2": c.StartWorker("w2", echoEnv, "-population", "1"),
	}
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "2s"}})[0]
	first := waitRunning(t, api, id, "", 5*time.Second)

	// 800 ms is well under the 2 s heartbeat timeout and memberlist's
	// suspicion time.
	p := workers[first.Worker]
	p.Signal(syscall.SIGSTOP)
	time.Sleep(800 * time.Millisecond)
	p.Signal(syscall.SIGCONT)

	final := api.WaitFinal(t, []string{id}, 30*time.Second)[0]
	if final.Status != "succeeded" || final.Attempts != 1 || final.Worker != first.Worker {
		t.Errorf("task = %s after %d attempts on %s, want succeeded after 1 on %s: a short stall must change nothing",
			final.Status, final.Attempts, final.Worker, first.Worker)
	}
}

func TestWorkerStoppedLongWrittenOff(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	workers := map[string]*clustertest.Proc{
		"w1": c.StartWorker("w1", echoEnv, "-population", "1"),
		"w2": c.StartWorker("w2", echoEnv, "-population", "1"),
	}
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "1500ms"}})[0]
	first := waitRunning(t, api, id, "", 5*time.Second)

	p := workers[first.Worker]
	p.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	second := waitRunning(t, api, id, first.Worker, 15*time.Second)
	moved := time.Since(stopped)
	t.Logf("silent worker written off; task moved %s after SIGSTOP", moved)
	if moved > 6*time.Second {
		t.Errorf("task moved %s after its worker went silent, want within the 2s heartbeat timeout plus margin", moved)
	}
	// Resume after 8 s in all: the first attempt (1.5 s of work) would
	// have ended meanwhile, so its result arrives late.
	time.Sleep(time.Until(stopped.Add(8 * time.Second)))
	p.Signal(syscall.SIGCONT)

	final := api.WaitFinal(t, []string{id}, 30*time.Second)[0]
	if final.Status != "succeeded" || final.Worker != second.Worker {
		t.Errorf("task = %s on %s, want succeeded on %s", final.Status, final.Worker, second.Worker)
	}
	// The resumed worker rejoins and learns from Welcome that its attempt
	// is stale, so it must not overwrite the recorded result.
	api.WaitWorkers(t, 2, 20*time.Second)
	time.Sleep(time.Second)
	again := api.Get(t, id)
	if again.Worker != second.Worker || again.Attempts != final.Attempts || again.Finished != final.Finished {
		t.Errorf("task changed after the stale worker returned: before %+v, after %+v", final, again)
	}
}

func TestMasterKilledWithQueuedTasks(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	api := c.API()

	const n = 3000
	reqs := make([]clustertest.TaskRequest, n)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "echo", Payload: strconv.Itoa(i)}
	}
	var ids []string
	for i := 0; i < n; i += 500 {
		ids = append(ids, api.SubmitBatch(t, reqs[i:i+500])...)
	}

	c.Master.Signal(syscall.SIGKILL)
	c.Master.Restart(t)
	api.WaitHealthy(t, 15*time.Second)
	c.StartWorker("w1", echoEnv, "-population", "16")

	tasks := api.WaitFinal(t, ids, 2*time.Minute)
	for i, task := range tasks {
		if task.Status != "succeeded" || task.Output != strconv.Itoa(i) {
			t.Errorf("task %d = %s %q, want succeeded %q", i, task.Status, task.Output, strconv.Itoa(i))
		}
	}
}

func TestMasterRestartAdoptsRunningAttempts(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-adopt-grace", "5s")
	c.StartWorker("w1", echoEnv, "-population", "2")
	c.StartWorker("w2", echoEnv, "-population", "2")
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	reqs := make([]clustertest.TaskRequest, 4)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "sleep", Payload: "4s"}
	}
	ids := api.SubmitBatch(t, reqs)
	for _, id := range ids {
		waitRunning(t, api, id, "", 5*time.Second)
	}
	time.Sleep(500 * time.Millisecond) // let the store write the running state

	c.Master.Signal(syscall.SIGKILL)
	c.Master.Restart(t)
	api.WaitHealthy(t, 15*time.Second)

	tasks := api.WaitFinal(t, ids, time.Minute)
	for _, task := range tasks {
		if task.Status != "succeeded" {
			t.Errorf("task %s is %s: %s", task.ID, task.Status, task.Error)
		}
		if task.Attempts != 1 {
			t.Errorf("task %s ran %d attempts, want 1: the restarted master must adopt the running attempt", task.ID, task.Attempts)
		}
	}
}

func TestPoisonTaskFailsOthersSucceed(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-max-attempts", "3", "-retry-backoff", "50ms")
	// The handler kills the worker process that runs it when the payload
	// is "poison", like a handler that crashes its host.
	env := []string{`LBD_HANDLER_JOB=["sh", "-c", "read p; if [ \"$p\" = poison ]; then kill -9 $PPID; sleep 5; fi; echo ok-$p"]`}
	// One slot per worker: a worker that the poison kills runs nothing
	// else, so no normal task loses attempts beside it.
	procs := make([]*clustertest.Proc, 3)
	for i := range procs {
		procs[i] = c.StartWorker(fmt.Sprintf("w%d", i+1), env, "-population", "1")
	}
	api := c.API()
	api.WaitWorkers(t, 3, 15*time.Second)

	// A supervisor, as systemd or Docker would be: restart crashed workers.
	stop := make(chan struct{})
	supervised := make(chan struct{})
	defer func() {
		close(stop)
		<-supervised
	}()
	go func() {
		defer close(supervised)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, p := range procs {
				if p.Wait(0) {
					p.Restart(t)
				}
			}
		}
	}()

	reqs := []clustertest.TaskRequest{{Type: "job", Payload: "poison\n"}}
	for i := 0; i < 20; i++ {
		reqs = append(reqs, clustertest.TaskRequest{Type: "job", Payload: strconv.Itoa(i) + "\n"})
	}
	ids := api.SubmitBatch(t, reqs)
	tasks := api.WaitFinal(t, ids, 2*time.Minute)

	poison := tasks[0]
	if poison.Status != "failed" || poison.Attempts != 3 || !strings.Contains(poison.Error, "lost") {
		t.Errorf("poison task = %s after %d attempts, error %q; want failed after 3 with a lost-worker error",
			poison.Status, poison.Attempts, poison.Error)
	}
	for i, task := range tasks[1:] {
		if want := fmt.Sprintf("ok-%d\n", i); task.Status != "succeeded" || task.Output != want {
			t.Errorf("task %d = %s %q (%s), want succeeded %q", i, task.Status, task.Output, task.Error, want)
		}
	}
}

func TestHungTaskTimesOutAndFreesSlot(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-task-timeout", "1s", "-max-attempts", "2", "-retry-backoff", "50ms")
	marker := fmt.Sprintf("%d.%d", os.Getpid(), time.Now().UnixNano()%100000)
	env := append([]string{`LBD_HANDLER_HANG=["sh", "-c", "sleep ` + marker + ` & sleep ` + marker + `"]`}, echoEnv...)
	c.StartWorker("w1", env, "-population", "1")
	api := c.API()
	api.WaitWorkers(t, 1, 15*time.Second)

	ids := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "hang"}, {Type: "echo", Payload: "after"}})
	tasks := api.WaitFinal(t, ids, time.Minute)

	hung := tasks[0]
	if hung.Status != "failed" || hung.Attempts != 2 || !strings.Contains(hung.Error, "timed out") {
		t.Errorf("hung task = %s after %d attempts, error %q; want failed after 2 timeouts", hung.Status, hung.Attempts, hung.Error)
	}
	if tasks[1].Status != "succeeded" || tasks[1].Output != "after" {
		t.Errorf("task after the hung one = %s %q, want succeeded on the freed slot", tasks[1].Status, tasks[1].Output)
	}
	// Both sleeps, the shell's child and the shell itself, must be gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := processesWithArg(t, marker)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of the hung handler still run after its timeout", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesWithArg counts processes whose command line contains arg.
func processesWithArg(t *testing.T, arg string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), arg) && !strings.Contains(string(cmdline), "LBD_HANDLER") {
			n++
		}
	}
	return n
}

func TestFullQueueRejectsAndKeepsAccepted(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-max-queued-tasks", "100")
	api := c.API()

	var accepted []string
	rejected := 0
	for i := 0; i < 150; i++ {
		var out struct {
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		code, err := api.Do("POST", "/v1/tasks", clustertest.TaskRequest{Type: "echo", Payload: strconv.Itoa(i)}, &out)
		if err != nil {
			t.Fatal(err)
		}
		switch code {
		case http.StatusCreated, http.StatusOK:
			accepted = append(accepted, out.ID)
		case http.StatusTooManyRequests:
			rejected++
			if !strings.Contains(out.Error, "100") {
				t.Errorf("429 error %q does not name the limit 100", out.Error)
			}
		default:
			t.Fatalf("submit %d: status %d (%s)", i, code, out.Error)
		}
	}
	if len(accepted) != 100 || rejected != 50 {
		t.Fatalf("accepted %d, rejected %d; want 100 and 50", len(accepted), rejected)
	}

	c.StartWorker("w1", echoEnv, "-population", "8")
	tasks := api.WaitFinal(t, accepted, time.Minute)
	for i, task := range tasks {
		if task.Status != "succeeded" || task.Output != strconv.Itoa(i) {
			t.Errorf("accepted task %d = %s %q, want succeeded", i, task.Status, task.Output)
		}
	}
}

func TestDrainFinishesRunningTask(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	w1 := c.StartWorker("w1", echoEnv, "-population", "1", "-drain-timeout", "10s")
	api := c.API()
	api.WaitWorkers(t, 1, 15*time.Second)

	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "1500ms"}})[0]
	waitRunning(t, api, id, "", 5*time.Second)
	w1.Signal(syscall.SIGTERM)
	if !w1.Wait(15 * time.Second) {
		t.Fatal("worker did not exit within the drain timeout after SIGTERM")
	}
	if code := w1.ExitCode(); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	task := api.Get(t, id)
	if task.Status != "succeeded" || task.Attempts != 1 {
		t.Errorf("task = %s after %d attempts, want succeeded after 1: a draining worker finishes its task", task.Status, task.Attempts)
	}
}

func TestDrainHandsBackLongTask(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	w1 := c.StartWorker("w1", echoEnv, "-population", "1", "-drain-timeout", "500ms")
	api := c.API()
	api.WaitWorkers(t, 1, 15*time.Second)

	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "sleep", Payload: "3s"}})[0]
	waitRunning(t, api, id, "", 5*time.Second)
	w1.Signal(syscall.SIGTERM)
	if !w1.Wait(10 * time.Second) {
		t.Fatal("worker did not exit after its drain timeout")
	}
	if code := w1.ExitCode(); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	c.StartWorker("w2", echoEnv, "-population", "1")
	task := api.WaitFinal(t, []string{id}, 30*time.Second)[0]
	if task.Status != "succeeded" || task.Worker != "w2" {
		t.Errorf("task = %s on %s, want succeeded on w2 after w1 handed it back", task.Status, task.Worker)
	}
}

func TestNodeNameReuse(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	api := c.API()
	w1 := c.StartWorker("w1", echoEnv, "-population", "1")
	api.WaitWorkers(t, 1, 15*time.Second)

	// A second live node with the same name must fail to start.
	dup := c.StartWorker("w1", echoEnv, "-population", "1")
	if !dup.Wait(20 * time.Second) {
		t.Fatal("a second live node named w1 is still running")
	}
	if code := dup.ExitCode(); code == 0 {
		t.Errorf("duplicate exit code = 0, want non-zero")
	}
	if !strings.Contains(dup.Log(), "already used by a live node") {
		t.Errorf("duplicate's log does not name the conflict:\n%s", dup.Log())
	}

	// The original, killed and started again at a new address (its gossip
	// port is picked anew), is a member again and runs tasks.
	w1.Signal(syscall.SIGKILL)
	w1.Wait(5 * time.Second)
	restarted := time.Now()
	c.StartWorker("w1", echoEnv, "-population", "1")
	id := api.SubmitBatch(t, []clustertest.TaskRequest{{Type: "echo", Payload: "back"}})[0]
	task := api.WaitFinal(t, []string{id}, 60*time.Second)[0]
	if task.Status != "succeeded" || task.Worker != "w1" {
		t.Errorf("task = %s on %q, want succeeded on the restarted w1", task.Status, task.Worker)
	}
	t.Logf("restarted w1 ran a task %s after it started", time.Since(restarted))
}

func TestWholeClusterRestartsAtOnce(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	w1 := c.StartWorker("w1", echoEnv, "-population", "2")
	w2 := c.StartWorker("w2", echoEnv, "-population", "2")
	api := c.API()
	api.WaitWorkers(t, 2, 15*time.Second)

	procs := []*clustertest.Proc{c.Master, w1, w2}
	for _, p := range procs {
		p.Signal(syscall.SIGKILL)
	}
	for _, p := range procs {
		p.Restart(t)
	}
	restarted := time.Now()
	api.WaitHealthy(t, 15*time.Second)
	api.WaitWorkers(t, 2, 30*time.Second)
	t.Logf("both workers connected %s after the whole cluster restarted", time.Since(restarted))

	reqs := make([]clustertest.TaskRequest, 20)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "sleep", Payload: "50ms"}
	}
	count := map[string]int{}
	for _, task := range api.WaitFinal(t, api.SubmitBatch(t, reqs), time.Minute) {
		if task.Status != "succeeded" {
			t.Errorf("task %s is %s: %s", task.ID, task.Status, task.Error)
		}
		count[task.Worker]++
	}
	if count["w1"] == 0 || count["w2"] == 0 {
		t.Errorf("tasks per worker = %v, want both restarted workers to run some", count)
	}
}

// TestTenThousandTasksThroughChaos submits 10,000 tasks to three workers
// while one worker is killed, another is killed and restarted, and the
// master is killed and restarted; every task must succeed with its own
// output. Half the tasks sleep 30 ms so that the kills hit running work.
func TestTenThousandTasksThroughChaos(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t, "-adopt-grace", "3s", "-max-attempts", "5")
	workers := []*clustertest.Proc{
		c.StartWorker("w1", echoEnv, "-population", "8"),
		c.StartWorker("w2", echoEnv, "-population", "8"),
		c.StartWorker("w3", echoEnv, "-population", "8"),
	}
	api := c.API()
	api.WaitWorkers(t, 3, 15*time.Second)

	const total, batch = 10000, 250
	ids := make([]string, 0, total)
	submit := func(from, to int) {
		for i := from; i < to; i += batch {
			reqs := make([]clustertest.TaskRequest, batch)
			for j := range reqs {
				reqs[j] = chaosTask(i + j)
			}
			ids = append(ids, api.SubmitBatch(t, reqs)...)
			time.Sleep(20 * time.Millisecond)
		}
	}

	submit(0, 3000)
	workers[0].Signal(syscall.SIGKILL) // w1 dies for good
	submit(3000, 5000)
	workers[1].Signal(syscall.SIGKILL)
	workers[1].Restart(t) // w2 comes back
	submit(5000, 7000)
	c.Master.Signal(syscall.SIGKILL)
	c.Master.Restart(t)
	api.WaitHealthy(t, 15*time.Second)
	submit(7000, total)

	tasks := api.WaitFinal(t, ids, 3*time.Minute)
	seen := make(map[string]bool, total)
	succeeded := 0
	for i, task := range tasks {
		if seen[task.ID] {
			t.Errorf("id %s returned for two submits", task.ID)
		}
		seen[task.ID] = true
		if want := chaosOutput(i); task.Status == "succeeded" && task.Output == want {
			succeeded++
		} else {
			t.Errorf("task %d = %s %q (%s), want succeeded %q", i, task.Status, task.Output, task.Error, want)
		}
	}
	if succeeded != total {
		t.Errorf("%d of %d tasks succeeded", succeeded, total)
	}
}

func chaosTask(i int) clustertest.TaskRequest {
	if i%2 == 1 {
		return clustertest.TaskRequest{Type: "sleep", Payload: "30ms"}
	}
	return clustertest.TaskRequest{Type: "echo", Payload: "task-" + strconv.Itoa(i)}
}

func chaosOutput(i int) string {
	if i%2 == 1 {
		return "slept 30ms"
	}
	return "task-" + strconv.Itoa(i)
}

func TestWorkerStopsQuicklyAfterMaster(t *testing.T) {
	skipShort(t)
	c := clustertest.StartMaster(t)
	w1 := c.StartWorker("w1", echoEnv, "-population", "4")
	api := c.API()
	api.WaitWorkers(t, 1, 15*time.Second)
	reqs := make([]clustertest.TaskRequest, 500)
	for i := range reqs {
		reqs[i] = clustertest.TaskRequest{Type: "echo", Payload: strconv.Itoa(i)}
	}
	api.WaitFinal(t, api.SubmitBatch(t, reqs), time.Minute)

	// The master acknowledged every result before it went, so the worker
	// has nothing to hand over and stops at once.
	c.Master.Signal(syscall.SIGTERM)
	c.Master.Wait(15 * time.Second)
	start := time.Now()
	w1.Signal(syscall.SIGTERM)
	if !w1.Wait(20 * time.Second) {
		t.Fatal("worker did not exit within 20s of SIGTERM")
	}
	if code := w1.ExitCode(); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("worker took %s to stop after its master, want well under its 30s drain timeout", d)
	}
}

func TestWorkerWithoutMasterStopsOnSIGTERM(t *testing.T) {
	skipShort(t)
	seed := "127.0.0.1:" + strconv.Itoa(clustertest.FreePort(t)) // nothing listens there
	w := clustertest.Start(t, "w1", echoEnv, "-role", "worker", "-node", "w1",
		"-bind", "127.0.0.1:0", "-join", seed)
	time.Sleep(500 * time.Millisecond) // it is retrying the join now
	w.Signal(syscall.SIGTERM)
	if !w.Wait(10 * time.Second) {
		t.Fatal("a worker still joining ignored SIGTERM for 10s")
	}
	if code := w.ExitCode(); code != 0 {
		t.Errorf("exit code = %d, want 0 for a stop requested before the join", code)
	}
}
