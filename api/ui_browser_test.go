package api_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

// findBrowser returns the path of a Chromium or Chrome binary, "" if none
// is installed.
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestStatusPageInBrowser loads the status page in headless Chromium and
// checks that it shows a worker that joined and a task that failed, and
// that its Cancel button cancels a running task. It saves a screenshot to
// $LBDTEST_SCREENSHOT_DIR, or to the test's temporary directory.
func TestStatusPageInBrowser(t *testing.T) {
	browser := findBrowser()
	if browser == "" {
		t.Skip("no Chromium or Chrome installed (apt-get install -y chromium): the browser test of the status page is skipped")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}

	cfg := config.Defaults()
	cfg.Dev = true
	cfg.Node = "page-master"
	cfg.Bind, cfg.TaskAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Durability = config.DurabilityNone
	cfg.Worker.Builtins = []string{config.BuiltinEcho, config.BuiltinSleep}
	cfg.Worker.Population = 2
	cfg.Worker.DrainTimeout = time.Second
	node, err := daemon.Start(context.Background(), cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start dev node: %v", err)
	}
	t.Cleanup(func() { node.Stop(context.Background()) })

	ctx := context.Background()
	c := client.New(node.HTTPAddr())
	failedID, err := c.Submit(ctx, api.TaskRequest{Type: "sleep", Payload: "not-a-duration", MaxAttempts: 1})
	if err != nil {
		t.Fatalf("submit failing task: %v", err)
	}
	if _, err := c.Wait(ctx, failedID); err != nil {
		t.Fatalf("wait for failing task: %v", err)
	}
	runningID, err := c.Submit(ctx, api.TaskRequest{Type: "sleep", Payload: "5m"})
	if err != nil {
		t.Fatalf("submit long task: %v", err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1200, 1000))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
	defer cancelTimeout()

	workerRow := `#members tr[data-node="page-master-worker"]`
	failedRow := `#failed tr[data-task="` + failedID + `"]`
	cancelButton := `#active tr[data-task="` + runningID + `"] button[data-op="cancel"]`
	page := "http://" + node.HTTPAddr() + "/"
	if err := chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible(workerRow), chromedp.WaitVisible(failedRow)); err != nil {
		t.Fatalf("load %s and wait for the worker and the failed task: %v", page, err)
	}
	workerText, err := chromedp.Run(bctx, chromedp.Text(workerRow))
	if err != nil {
		t.Fatalf("read the worker row: %v", err)
	}
	failedText, err := chromedp.Run(bctx, chromedp.Text(failedRow))
	if err != nil {
		t.Fatalf("read the failed-task row: %v", err)
	}
	// One more refresh gives the charts a second sample.
	if err := chromedp.Do(bctx, chromedp.WaitVisible(cancelButton), chromedp.Sleep(2200*time.Millisecond)); err != nil {
		t.Fatalf("wait for the running task's Cancel button: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100 selects PNG
	if err != nil {
		t.Fatalf("take a screenshot: %v", err)
	}
	// As with Pause below, the click happens in the page, because a redraw
	// can replace the button between finding and clicking it.
	clickIn := func(sel string) string {
		return `(() => { const b = document.querySelector('` + sel + `'); if (b) b.click(); return !!b })()`
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](clickIn(cancelButton))); err != nil {
		t.Fatalf("click Cancel: %v", err)
	}

	if !strings.Contains(workerText, "worker") || !strings.Contains(workerText, "alive") {
		t.Errorf("worker row %q, want role worker and state alive", workerText)
	}
	if !strings.Contains(failedText, "invalid sleep payload") {
		t.Errorf("failed-task row %q, want the task's error", failedText)
	}

	deadline := time.Now().Add(10 * time.Second)
	var task api.Task
	for time.Now().Before(deadline) {
		if task, err = c.Get(ctx, runningID); err == nil && task.Status == "canceled" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if task.Status != "canceled" {
		t.Errorf("task %s is %q after Cancel on the page, want canceled (err %v)", runningID, task.Status, err)
	}

	// The queues table lists the default queue, and its Pause button
	// pauses it. The page redraws the table every 2 s, which can replace
	// the button between finding and clicking it, so the click happens in
	// the page and is repeated until the master reports the pause; a second
	// pause is harmless.
	pauseButton := `#queues tr[data-queue="default"] button[data-op="pause"]`
	if err := chromedp.Do(bctx, chromedp.WaitVisible(pauseButton)); err != nil {
		t.Fatalf("wait for Pause on the default queue: %v", err)
	}
	clickPause := clickIn(pauseButton)
	paused := false
	for deadline := time.Now().Add(10 * time.Second); !paused && time.Now().Before(deadline); {
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](clickPause)); err != nil {
			t.Fatalf("click Pause on the default queue: %v", err)
		}
		queues, err := c.Queues(ctx)
		for _, q := range queues {
			paused = paused || err == nil && q.Name == "default" && q.Paused
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !paused {
		t.Error("the default queue is not paused after Pause on the page")
	}

	dir := os.Getenv("LBDTEST_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "status-page.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot of the status page: %s", path)
}
