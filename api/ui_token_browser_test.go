package api_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

// TestStatusPageAsksForToken loads the status page of a master with an API
// token in headless Chromium, answers the page's prompt with the token and
// checks that the page then shows the worker, keeps the token in
// sessionStorage and asks only once.
func TestStatusPageAsksForToken(t *testing.T) {
	browser := findBrowser()
	if browser == "" {
		t.Skip("no Chromium or Chrome installed (apt-get install -y chromium): the browser test of the status page is skipped")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}

	const token = "page-token-0123456789"
	cfg := config.Defaults()
	cfg.Dev = true
	cfg.Node = "token-master"
	cfg.Bind, cfg.TaskAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Durability = config.DurabilityNone
	cfg.Worker.Builtins = []string{config.BuiltinEcho}
	cfg.Worker.Population = 1
	cfg.Worker.DrainTimeout = time.Second
	cfg.APIToken = token
	node, err := daemon.Start(context.Background(), cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start dev node: %v", err)
	}
	t.Cleanup(func() { node.Stop(context.Background()) })

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1200, 1000))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
	defer cancelTimeout()

	var prompts atomic.Int32
	go func() {
		for ev, err := range chromedp.Events(tctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			if ev.Type != page.DialogTypePrompt {
				t.Errorf("dialog of type %q, want a prompt", ev.Type)
			}
			prompts.Add(1)
			go chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
				_, err := cdp.Call(ctx, target, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{
					Accept: true, PromptText: token,
				})
				return err
			}))
		}
	}()

	workerRow := `#members tr[data-node="token-master-worker"]`
	pageURL := "http://" + node.HTTPAddr() + "/"
	if err := chromedp.Do(tctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(workerRow)); err != nil {
		t.Fatalf("load %s and wait for the worker after entering the token: %v", pageURL, err)
	}
	// Two more refreshes must reuse the stored token.
	if err := chromedp.Do(tctx, chromedp.Sleep(4500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	stored, err := chromedp.Run(tctx, chromedp.Evaluate[string](`sessionStorage.getItem("lbd-api-token") || ""`))
	if err != nil {
		t.Fatalf("read sessionStorage: %v", err)
	}
	if stored != token {
		t.Errorf("sessionStorage token = %q, want the entered token", stored)
	}
	if n := prompts.Load(); n != 1 {
		t.Errorf("the page asked for the token %d times, want once", n)
	}
}
