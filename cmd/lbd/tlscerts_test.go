package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/tlsutil"
)

// runLBD runs lbd with args and returns its exit code and output.
func runLBD(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestTLSCAAndCert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	code, out, errText := runLBD("tls-ca", "-out", dir, "-days", "100")
	if code != exitOK {
		t.Fatalf("lbd tls-ca exit code = %d; stderr: %s", code, errText)
	}
	if !strings.Contains(out, filepath.Join(dir, "ca.pem")) {
		t.Errorf("lbd tls-ca printed %q, want the paths it wrote", out)
	}
	code, _, errText = runLBD("tls-cert", "-ca", dir, "-name", "w1", "-host", "w1.example,10.0.0.7", "-out", dir, "-days", "30")
	if code != exitOK {
		t.Fatalf("lbd tls-cert exit code = %d; stderr: %s", code, errText)
	}
	certs, err := tlsutil.LoadNode(
		tlsutil.File{Path: filepath.Join(dir, "ca.pem"), Setting: "tls_ca_file"},
		tlsutil.File{Path: filepath.Join(dir, "w1.pem"), Setting: "tls_cert_file"},
		tlsutil.File{Path: filepath.Join(dir, "w1-key.pem"), Setting: "tls_key_file"},
		time.Now())
	if err != nil {
		t.Fatalf("the files of lbd tls-cert do not load as a node's: %v", err)
	}
	leaf := certs.Leaf()
	if leaf.Subject.CommonName != "w1" || len(leaf.DNSNames) != 2 || len(leaf.IPAddresses) != 1 {
		t.Errorf("certificate CN %q, DNS %v, IP %v; want w1, [w1 w1.example], [10.0.0.7]", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}

	code, _, errText = runLBD("tls-ca", "-out", dir)
	if code != exitFailure || !strings.Contains(errText, "already exists") {
		t.Errorf("second lbd tls-ca: exit code %d, stderr %q; want %d and already exists", code, errText, exitFailure)
	}
}

func TestTLSCertUsageErrors(t *testing.T) {
	dir := t.TempDir()
	if code, _, errText := runLBD("tls-ca", "-out", dir); code != exitOK {
		t.Fatalf("lbd tls-ca: %s", errText)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tls-cert", "-name", "w1"}, exitUsage, "missing -ca DIR"},
		{[]string{"tls-cert", "-ca", dir}, exitUsage, "missing -name NODE"},
		{[]string{"tls-cert", "-ca", dir, "-name", "w1", "-host", "a b"}, exitUsage, `invalid -host "a b"`},
		{[]string{"tls-cert", "-ca", dir, "-name", "w1", "-days", "0"}, exitUsage, "invalid -days 0"},
		{[]string{"tls-cert", "-ca", dir, "-name", "a/b"}, exitUsage, "path separators"},
		{[]string{"tls-cert", "-ca", filepath.Join(dir, "none"), "-name", "w1", "-out", t.TempDir()}, exitFailure, "CA not found"},
		{[]string{"tls-ca", "-out", t.TempDir(), "-days", "-1"}, exitUsage, "invalid -days -1"},
		{[]string{"tls-ca", "extra"}, exitUsage, "unexpected argument"},
	}
	for _, tt := range tests {
		code, _, errText := runLBD(tt.args...)
		if code != tt.code {
			t.Errorf("lbd %s: exit code %d, want %d", strings.Join(tt.args, " "), code, tt.code)
		}
		if !strings.Contains(errText, tt.want) {
			t.Errorf("lbd %s: stderr %q, want %q", strings.Join(tt.args, " "), errText, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "w1.pem")); err == nil {
		t.Error("a rejected lbd tls-cert wrote w1.pem")
	}
}
