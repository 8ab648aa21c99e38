package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/lbd-dev/lbd/tlsutil"
)

// runTLSCA creates the cluster CA that signs node certificates.
func runTLSCA(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbd tls-ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "`directory` to write ca.pem and ca-key.pem to; created when missing")
	days := fs.Int("days", tlsutil.DefaultCADays, "validity of the CA in days, 1 to 36500")
	force := fs.Bool("force", false, "overwrite existing ca.pem and ca-key.pem")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbd tls-ca [-out DIR] [-days N] [-force]\n\n"+
			"Creates a cluster CA: an ECDSA P-256 key in DIR/ca-key.pem (mode 0600) and its\n"+
			"self-signed certificate in DIR/ca.pem. Give ca.pem to every node as tls_ca_file,\n"+
			"and keep ca-key.pem off the nodes: lbd tls-cert needs it to issue certificates.")
		fs.PrintDefaults()
	}

	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbd tls-ca: unexpected argument %q: tls-ca takes flags only\n", fs.Arg(0))
		return exitUsage
	}
	if *days < 1 || *days > tlsutil.MaxDays {
		fmt.Fprintf(stderr, "lbd tls-ca: invalid -days %d: must be from 1 to %d\n", *days, tlsutil.MaxDays)
		return exitUsage
	}

	certPath, keyPath, err := tlsutil.CreateCA(tlsutil.CAOptions{Dir: *out, Days: *days, Force: *force})
	if err != nil {
		fmt.Fprintf(stderr, "lbd tls-ca: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", certPath, keyPath)
	return exitOK
}

// runTLSCert issues a node certificate signed by the cluster CA.
func runTLSCert(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbd tls-cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	caDir := fs.String("ca", "", "`directory` of ca.pem and ca-key.pem, as lbd tls-ca wrote them (required)")
	name := fs.String("name", "", "node `name`: the certificate's common name, which must equal the node's node setting (required)")
	hosts := fs.String("host", "", "comma-separated DNS names and IP addresses to add as subject alternative names, such as master-1.example,10.0.0.5")
	out := fs.String("out", ".", "`directory` to write NAME.pem and NAME-key.pem to; created when missing")
	days := fs.Int("days", tlsutil.DefaultCertDays, "validity of the certificate in days, 1 to 36500, and not past the CA's expiry")
	force := fs.Bool("force", false, "overwrite existing NAME.pem and NAME-key.pem")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbd tls-cert -ca DIR -name NODE [-host h1,10.0.0.5,...] [-out DIR] [-days N] [-force]\n\n"+
			"Issues a certificate for one node, signed by the CA in DIR, for both server and\n"+
			"client auth: its common name is NODE, its DNS names are NODE and the -host names,\n"+
			"its IP addresses the -host IPs. Writes NODE.pem and NODE-key.pem (mode 0600), for\n"+
			"the node's tls_cert_file and tls_key_file.")
		fs.PrintDefaults()
	}

	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "lbd tls-cert: unexpected argument %q: tls-cert takes flags only\n", fs.Arg(0))
		return exitUsage
	case *caDir == "":
		fmt.Fprintln(stderr, "lbd tls-cert: missing -ca DIR: the directory of ca.pem and ca-key.pem (lbd tls-ca -out DIR creates them)")
		return exitUsage
	case *name == "":
		fmt.Fprintln(stderr, "lbd tls-cert: missing -name NODE: the node name of the node that gets the certificate")
		return exitUsage
	case *days < 1 || *days > tlsutil.MaxDays:
		fmt.Fprintf(stderr, "lbd tls-cert: invalid -days %d: must be from 1 to %d\n", *days, tlsutil.MaxDays)
		return exitUsage
	}
	if err := tlsutil.CheckNodeName(*name); err != nil {
		fmt.Fprintf(stderr, "lbd tls-cert: %v\n", err)
		return exitUsage
	}

	var hostList []string
	if *hosts != "" {
		hostList = strings.Split(*hosts, ",")
	}
	if _, _, err := tlsutil.ParseHosts(hostList); err != nil {
		fmt.Fprintf(stderr, "lbd tls-cert: %v\n", err)
		return exitUsage
	}

	certPath, keyPath, err := tlsutil.IssueNodeCert(tlsutil.CertOptions{
		CADir: *caDir, Name: *name, Hosts: hostList, OutDir: *out, Days: *days, Force: *force,
	})
	if err != nil {
		fmt.Fprintf(stderr, "lbd tls-cert: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", certPath, keyPath)
	return exitOK
}
