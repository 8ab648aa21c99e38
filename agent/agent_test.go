package agent_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/agent"
	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

func TestAgentRunsTasksAndDrains(t *testing.T) {
	cfg := config.Defaults()
	cfg.Role = config.RoleMaster
	cfg.Node = "agent-master"
	cfg.Bind, cfg.TaskAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Durability = config.DurabilityNone
	discard := slog.New(slog.DiscardHandler)
	master, err := daemon.Start(context.Background(), cfg, daemon.Options{Logger: discard})
	if err != nil {
		t.Fatalf("start master: %v", err)
	}
	t.Cleanup(func() { master.Stop(context.Background()) })

	a := agent.New(agent.Config{Node: "agent-1", Join: []string{master.GossipAddr()}, Bind: "127.0.0.1:0",
		Population: 2, DrainTimeout: time.Second, Logger: discard})
	a.HandleFunc("upper", func(_ context.Context, p []byte) ([]byte, error) { return bytes.ToUpper(p), nil })
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(context.Background()) }()

	ctx := context.Background()
	c := client.New(master.HTTPAddr())
	id, err := c.Submit(ctx, api.TaskRequest{Type: "upper", Payload: "embedded"})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	task, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	if task.Status != "succeeded" || task.Output != "EMBEDDED" || task.Worker != "agent-1" {
		t.Errorf("task %s: status %s output %q worker %q, want succeeded EMBEDDED on agent-1", id, task.Status, task.Output, task.Worker)
	}

	if err := c.Drain(ctx, "agent-1"); err != nil {
		t.Fatalf("drain agent-1: %v", err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run after drain: %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of a drain request")
	}
}

func TestAgentWithoutHandler(t *testing.T) {
	err := agent.New(agent.Config{Node: "n", Join: []string{"127.0.0.1:1"}}).Start(context.Background())
	if err == nil {
		t.Fatal("Start without a handler succeeded, want an error")
	}
}
