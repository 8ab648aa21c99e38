package client_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/daemon"
)

// startMaster starts a master with a local echo and sleep worker in the
// process, as lbd -dev does but on free loopback ports, and returns its API
// address and a function that stops it.
func startMaster() (string, func()) {
	cfg := config.Defaults()
	cfg.Dev = true
	cfg.Node = "example"
	cfg.Bind, cfg.TaskAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Durability = config.DurabilityNone
	cfg.Worker.Builtins = []string{config.BuiltinEcho, config.BuiltinSleep}
	cfg.Worker.Population = 2
	cfg.Worker.DrainTimeout = time.Second
	n, err := daemon.Start(context.Background(), cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	return n.HTTPAddr(), func() { n.Stop(context.Background()) }
}

func ExampleClient_Watch() {
	addr, stop := startMaster()
	defer stop()
	ctx := context.Background()
	c := client.New(addr)

	ids, err := c.SubmitBatch(ctx, []api.TaskRequest{
		{Type: "echo", Payload: "a"},
		{Type: "sleep", Payload: "not-a-duration", MaxAttempts: 1},
	})
	if err != nil {
		log.Fatal(err)
	}
	outcome := map[string]string{}
	for ev := range c.Watch(ctx, ids) {
		if ev.Err != nil {
			log.Fatal(ev.Err)
		}
		outcome[ev.ID] = string(ev.Task.Status)
	}
	fmt.Println(outcome[ids[0]], outcome[ids[1]])
	// Output: succeeded failed
}

func ExampleClient_List() {
	addr, stop := startMaster()
	defer stop()
	ctx := context.Background()
	c := client.New(addr)

	for _, p := range []string{"one", "two", "three"} {
		id, err := c.Submit(ctx, api.TaskRequest{Type: "echo", Payload: p})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := c.Wait(ctx, id); err != nil {
			log.Fatal(err)
		}
	}
	// Two tasks per page, oldest first, following Next.
	opts := client.ListOptions{Status: "succeeded", Limit: 2, Oldest: true}
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			log.Fatal(err)
		}
		for _, t := range page.Tasks {
			fmt.Println(t.Output)
		}
		if page.Next == "" {
			break
		}
		opts.After = page.Next
	}
	// Output:
	// one
	// two
	// three
}

func ExampleClient_Members() {
	addr, stop := startMaster()
	defer stop()
	c := client.New(addr)
	// The embedded worker joins through gossip a moment after the master
	// starts.
	var members []api.Member
	for deadline := time.Now().Add(10 * time.Second); len(members) < 2 && time.Now().Before(deadline); {
		var err error
		if members, err = c.Members(context.Background()); err != nil {
			log.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range members {
		fmt.Println(m.Node, m.Role, m.State, m.Slots)
	}
	// Output:
	// example master alive 0
	// example-worker worker alive 2
}
