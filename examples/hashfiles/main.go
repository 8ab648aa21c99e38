// Command hashfiles is an lbd worker embedded in a Go program. It runs
// tasks of type "sha256file": the payload is a file path, the output the
// file's SHA-256 in hex followed by two spaces and the path, like
// sha256sum.
//
//	hashfiles -node hasher-1 -join master.example:7946 -population 4
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lbd-dev/lbd/agent"
)

func main() {
	node := flag.String("node", "", "node name, unique in the cluster (default: the host name)")
	join := flag.String("join", "127.0.0.1:7946", "gossip address of the master, host:port")
	bind := flag.String("bind", "0.0.0.0:7946", "gossip listen address, host:port")
	population := flag.Int("population", 4, "files hashed at once")
	flag.Parse()

	a := agent.New(agent.Config{Node: *node, Join: strings.Split(*join, ","), Bind: *bind, Population: *population})
	a.HandleFunc("sha256file", hashFile)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// hashFile returns "<sha256 hex>  <path>" for the file named by payload.
func hashFile(ctx context.Context, payload []byte) ([]byte, error) {
	path := string(payload)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f}); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return []byte(hex.EncodeToString(h.Sum(nil)) + "  " + path), nil
}

// ctxReader stops a long read when the task is canceled or times out.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
