package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/lbd-dev/lbd/client"
)

// warnUnserved prints a note for each task type that no connected worker
// runs, because a waiting submit for such a type would otherwise wait
// without a word until a worker that runs it joins. It says nothing when
// the worker list cannot be read.
func warnUnserved(ctx context.Context, c *client.Client, types []string, stderr io.Writer) {
	workers, err := c.Workers(ctx)
	if err != nil {
		return
	}
	served := make(map[string]bool)
	for _, w := range workers {
		for _, t := range w.Types {
			served[t] = true
		}
	}
	slices.Sort(types)
	for _, t := range slices.Compact(types) {
		if !served[t] {
			fmt.Fprintf(stderr, "lbd submit: note: no connected worker runs type %q; its tasks wait in the queue until such a worker joins\n", t)
		}
	}
}
