package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/lbd-dev/lbd/api"
	"github.com/lbd-dev/lbd/client"
)

// defaultHTTPAddr is the master address of client commands when neither
// -http-addr nor LBD_HTTP_ADDR sets one.
const defaultHTTPAddr = "127.0.0.1:7948"

// clientFlags are the flags of every command that talks to the master.
type clientFlags struct {
	addr   string
	token  string
	caFile string
	json   bool
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	addr := defaultHTTPAddr
	if env := os.Getenv("LBD_HTTP_ADDR"); env != "" {
		addr = env
	}
	fs.StringVar(&f.addr, "http-addr", addr, "master HTTP API `address`, host:port, http://host:port or https://host:port; default from LBD_HTTP_ADDR")
	fs.StringVar(&f.token, "api-token", os.Getenv("LBD_API_TOKEN"),
		"master API `token` (api_token), sent as a bearer token; default from LBD_API_TOKEN, which keeps it out of ps")
	fs.StringVar(&f.caFile, "api-ca-file", defaultAPICAFile(),
		"CA certificate `file` that verifies an https master; default from LBD_API_CA_FILE, else LBD_TLS_CA_FILE, else the system's CAs")
	fs.BoolVar(&f.json, "json", false, "print JSON instead of text")
}

// defaultAPICAFile returns the CA file of client commands from the
// environment: api_ca_file, falling back to the node's tls_ca_file.
func defaultAPICAFile() string {
	return envOr("LBD_API_CA_FILE", os.Getenv("LBD_TLS_CA_FILE"))
}

// newClient returns a client for the master at -http-addr with -api-token
// and -api-ca-file.
func (f *clientFlags) newClient() *client.Client {
	opts := []client.Option{client.WithToken(f.token)}
	if f.caFile != "" {
		opts = append(opts, client.WithCAFile(f.caFile))
	}
	return client.New(f.addr, opts...)
}

// parseFlags parses args and returns the exit code to stop with, or -1 to
// go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	}
	return -1
}

// runWorkers lists the workers connected to the master.
func runWorkers(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbd workers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbd workers [-http-addr ADDR] [-json]\n\nLists the workers connected to the master: node, address, slots, busy slots and task types.")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbd workers: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}

	workers, err := cf.newClient().Workers(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "lbd workers: %v\n", err)
		return exitCodeOf(err)
	}

	if cf.json {
		if err := json.NewEncoder(stdout).Encode(api.WorkersResponse{Workers: workers}); err != nil {
			fmt.Fprintf(stderr, "lbd workers: write output: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if err := printWorkers(stdout, workers); err != nil {
		fmt.Fprintf(stderr, "lbd workers: write output: %v\n", err)
		return exitFailure
	}
	if len(workers) == 0 {
		fmt.Fprintln(stderr, "lbd workers: no worker is connected to the master")
	}
	return exitOK
}

// printWorkers writes the workers as a table. DONE counts the results each
// worker reported since it connected. A draining worker's node name is
// followed by "(draining)".
func printWorkers(w io.Writer, workers []api.Worker) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDR\tSLOTS\tBUSY\tDONE\tTYPES")
	for _, wk := range workers {
		node := wk.Node
		if wk.Draining {
			node += " (draining)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", node, wk.Addr, wk.Slots, wk.Busy, wk.Completed, strings.Join(wk.Types, ","))
	}
	return tw.Flush()
}
