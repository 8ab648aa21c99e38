package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// defaultGossipAddr is the address lbd health checks for a worker when
// neither -gossip nor LBD_BIND sets one.
const defaultGossipAddr = "127.0.0.1:7946"

// runHealth checks a node without a shell, for container health checks. A
// master is healthy when GET /healthz returns 200. A worker serves no HTTP,
// so for a worker (-gossip, or LBD_ROLE=worker) it checks that the gossip
// port accepts a TCP connection, which memberlist serves as long as the
// node is a member.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbd health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http-addr", envOr("LBD_HTTP_ADDR", defaultHTTPAddr),
		"master HTTP API `address` to check; default from LBD_HTTP_ADDR")
	gossip := fs.String("gossip", "", "check the gossip port at `host:port` instead of the HTTP API; "+
		"with LBD_ROLE=worker the default is the port of LBD_BIND on loopback")
	timeout := fs.Duration("timeout", 3*time.Second, "time allowed for the check")
	caFile := fs.String("api-ca-file", defaultAPICAFile(),
		"CA certificate `file` that verifies an https master; default from LBD_API_CA_FILE, else LBD_TLS_CA_FILE")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbd health [-http-addr ADDR] [-api-ca-file FILE] [-gossip ADDR] [-timeout D]\n\n"+
			"Exits 0 when the node answers, 1 when it does not, 2 on a usage error.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbd health: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "lbd health: invalid -timeout %s: use a positive duration such as 3s\n", *timeout)
		return exitUsage
	}
	if *gossip == "" && os.Getenv("LBD_ROLE") == "worker" {
		*gossip = envOr("LBD_BIND", defaultGossipAddr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	if *gossip != "" {
		err = checkGossip(ctx, *gossip)
	} else {
		err = checkHTTP(ctx, *httpAddr, *caFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbd health: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}

// checkHTTP requires 200 from GET /healthz at addr. caFile, when not
// empty, holds the CA certificates that verify an https master.
func checkHTTP(ctx context.Context, addr, caFile string) error {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + dialable(base)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("invalid -http-addr %q: %w", addr, err)
	}
	hc := http.DefaultClient
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read -api-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return fmt.Errorf("-api-ca-file %s contains no PEM certificate", caFile)
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		hc = &http.Client{Transport: transport}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("master at %s is unreachable: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("master at %s is unhealthy: GET /healthz returned %s: %s",
			addr, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// checkGossip requires the gossip port at addr to accept a TCP connection.
func checkGossip(ctx context.Context, addr string) error {
	target := dialable(addr)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return fmt.Errorf("gossip port %s does not accept connections: %w", target, err)
	}
	return conn.Close()
}

// dialable turns a listen address such as 0.0.0.0:7946 or :7946 into one
// to dial on the same host.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// envOr returns the variable name, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
