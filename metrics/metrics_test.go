package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

// startNode starts an lbd node in the test process on free loopback ports.
func startNode(t *testing.T, edit func(*config.Config)) *daemon.Node {
	t.Helper()
	cfg := config.Defaults()
	cfg.Bind = "127.0.0.1:0"
	cfg.TaskAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Durability = config.DurabilityNone
	cfg.RetryBackoff = 10 * time.Millisecond
	cfg.RetryBackoffMax = 10 * time.Millisecond
	edit(cfg)
	n, err := daemon.Start(context.Background(), cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start %s node %s: %v", cfg.Role, cfg.Node, err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

// startCluster starts a master and one worker with the echo and sleep
// handlers, whose /metrics and /healthz listen on a free port.
func startCluster(t *testing.T) (master, worker *daemon.Node) {
	master = startNode(t, func(c *config.Config) { c.Role = config.RoleMaster; c.Node = "m1" })
	worker = startNode(t, func(c *config.Config) {
		c.Role = config.RoleWorker
		c.Node = "w1"
		c.Join = []string{master.GossipAddr()}
		c.Worker.Builtins = []string{config.BuiltinEcho, config.BuiltinSleep}
		c.Worker.Population = 2
		c.Worker.DrainTimeout = time.Second
	})
	return master, worker
}

// scrape returns the samples of the text exposition at addr/metrics, by
// name with labels, such as `lbd_tasks_succeeded_total{type="echo"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want 200", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetric polls until the metric has the value or the deadline passes.
func waitMetric(t *testing.T, addr, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got float64
	for time.Now().Before(deadline) {
		var ok bool
		got, ok = scrape(t, addr)[name]
		if ok && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s = %v, want %v", name, got, want)
}

func submit(t *testing.T, c *client.Client, typ, payload string, attempts int) string {
	t.Helper()
	id, err := c.Submit(context.Background(), api.TaskRequest{Type: typ, Payload: payload, MaxAttempts: attempts})
	if err != nil {
		t.Fatalf("submit %s %q: %v", typ, payload, err)
	}
	return id
}

func TestMasterTaskCounters(t *testing.T) {
	master, _ := startCluster(t)
	addr := master.HTTPAddr()
	c := client.New(addr)
	waitMetric(t, addr, `lbd_worker_slots{worker="w1"}`, 2)
	waitMetric(t, addr, `lbd_members{state="alive"}`, 2)

	id := submit(t, c, "echo", "hello", 0)
	if _, err := c.Wait(context.Background(), id); err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	waitMetric(t, addr, `lbd_tasks_submitted_total{type="echo"}`, 1)
	waitMetric(t, addr, `lbd_tasks_started_total{type="echo"}`, 1)
	waitMetric(t, addr, `lbd_tasks_succeeded_total{type="echo"}`, 1)
	waitMetric(t, addr, `lbd_task_duration_seconds_count{type="echo"}`, 1)
	waitMetric(t, addr, `lbd_task_queue_wait_seconds_count{type="echo"}`, 1)

	// An invalid sleep payload fails each attempt: 2 attempts, 1 retry.
	id = submit(t, c, "sleep", "not-a-duration", 2)
	if task, err := c.Wait(context.Background(), id); err != nil || task.Status != "failed" {
		t.Fatalf("wait %s: status %q err %v, want failed", id, task.Status, err)
	}
	waitMetric(t, addr, `lbd_tasks_failed_total{type="sleep"}`, 1)
	waitMetric(t, addr, `lbd_tasks_retried_total{type="sleep"}`, 1)
	waitMetric(t, addr, `lbd_tasks_started_total{type="sleep"}`, 2)
	waitMetric(t, addr, `lbd_task_queue_wait_seconds_count{type="sleep"}`, 1)
}

func TestMasterGaugesAndCancel(t *testing.T) {
	master, _ := startCluster(t)
	addr := master.HTTPAddr()
	c := client.New(addr)
	waitMetric(t, addr, `lbd_worker_slots{worker="w1"}`, 2)

	// Two long tasks fill both slots; a third waits in the queue.
	var ids []string
	for range 3 {
		ids = append(ids, submit(t, c, "sleep", "1m", 0))
	}
	waitMetric(t, addr, `lbd_worker_busy_slots{worker="w1"}`, 2)
	waitMetric(t, addr, "lbd_tasks_running", 2)
	waitMetric(t, addr, "lbd_queue_depth", 1)
	waitMetric(t, addr, "lbd_queue_bytes", 2)
	waitMetric(t, addr, `lbd_queue_tasks{queue="default",state="queued"}`, 1)
	waitMetric(t, addr, `lbd_queue_tasks{queue="default",state="running"}`, 2)
	waitMetric(t, addr, `lbd_queue_tasks{queue="default",state="delayed"}`, 0)
	waitMetric(t, addr, `lbd_queue_paused{queue="default"}`, 0)

	for _, id := range ids {
		if _, err := c.Cancel(context.Background(), id); err != nil {
			t.Fatalf("cancel %s: %v", id, err)
		}
	}
	waitMetric(t, addr, `lbd_tasks_canceled_total{type="sleep"}`, 3)
	waitMetric(t, addr, "lbd_queue_depth", 0)
	waitMetric(t, addr, "lbd_tasks_running", 0)
	waitMetric(t, addr, `lbd_worker_busy_slots{worker="w1"}`, 0)
}

func TestTaskConnectionErrors(t *testing.T) {
	master, _ := startCluster(t)
	addr := master.HTTPAddr()
	waitMetric(t, addr, "lbd_task_connection_errors_total", 0)

	// A connection that sends no valid preamble is rejected.
	conn, err := net.DialTimeout("tcp", master.TaskAddr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial task address: %v", err)
	}
	fmt.Fprint(conn, "GET / HTTP/1.0\r\n\r\n")
	io.ReadAll(conn)
	conn.Close()
	waitMetric(t, addr, "lbd_task_connection_errors_total", 1)
}

func TestWorkerMetricsAndHealth(t *testing.T) {
	master, worker := startCluster(t)
	waddr := worker.WorkerHTTPAddr()
	if waddr == "" {
		t.Fatal("worker serves no /metrics although http_addr is set")
	}
	waitMetric(t, waddr, `lbd_worker_connected{worker="w1"}`, 1)
	waitMetric(t, waddr, `lbd_worker_slots{worker="w1"}`, 2)

	resp, err := http.Get("http://" + waddr + "/healthz")
	if err != nil {
		t.Fatalf("GET worker /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"node":"w1"`) {
		t.Errorf("worker /healthz: status %d body %s, want 200 naming w1", resp.StatusCode, body)
	}

	c := client.New(master.HTTPAddr())
	id := submit(t, c, "echo", "x", 0)
	if _, err := c.Wait(context.Background(), id); err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	waitMetric(t, waddr, `lbd_worker_tasks_succeeded_total{worker="w1"}`, 1)
}

func TestStoreFsyncMetrics(t *testing.T) {
	master := startNode(t, func(c *config.Config) {
		c.Role = config.RoleMaster
		c.Node = "m1"
		c.Durability = config.DurabilityFsync
		c.DataDir = t.TempDir()
	})
	addr := master.HTTPAddr()
	submit(t, client.New(addr), "echo", "durable", 0)

	m := scrape(t, addr)
	if m["lbd_store_commits_total"] < 1 {
		t.Errorf("lbd_store_commits_total = %v after a durable submit, want at least 1", m["lbd_store_commits_total"])
	}
	if _, ok := m["lbd_store_fsync_seconds"]; !ok {
		t.Error("lbd_store_fsync_seconds is missing on a master with durability fsync")
	}
}
