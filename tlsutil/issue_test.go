package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// newCA creates a CA in a new temporary directory, created at now.
func newCA(t *testing.T, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := CreateCA(CAOptions{Dir: dir, Days: DefaultCADays, Now: now}); err != nil {
		t.Fatalf("CreateCA: %v", err)
	}
	return dir
}

// issue issues a certificate for name from the CA in caDir into caDir.
func issue(t *testing.T, caDir, name string, now time.Time, days int, hosts ...string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath, err := IssueNodeCert(CertOptions{CADir: caDir, Name: name, Hosts: hosts, OutDir: caDir, Days: days, Now: now})
	if err != nil {
		t.Fatalf("IssueNodeCert(%s): %v", name, err)
	}
	return certPath, keyPath
}

func parseCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s has no CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return cert
}

func TestCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	certPath, keyPath, err := CreateCA(CAOptions{Dir: dir, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	if certPath != filepath.Join(dir, "ca.pem") || keyPath != filepath.Join(dir, "ca-key.pem") {
		t.Errorf("paths = %s, %s; want ca.pem and ca-key.pem in %s", certPath, keyPath, dir)
	}
	ca := parseCertFile(t, certPath)
	if !ca.IsCA || !ca.BasicConstraintsValid {
		t.Error("CA certificate is not marked as a CA")
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("CA certificate cannot sign certificates")
	}
	if !strings.HasPrefix(ca.Subject.CommonName, "lbd cluster CA ") {
		t.Errorf("CA common name = %q", ca.Subject.CommonName)
	}
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if left := time.Until(ca.NotAfter); left < 29*24*time.Hour || left > 31*24*time.Hour {
		t.Errorf("CA valid for %s more, want 30 days", left)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}

	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	signer, err := readPrivateKey(File{Path: keyPath, Setting: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !signer.Public().(*ecdsa.PublicKey).Equal(ca.PublicKey) {
		t.Error("ca-key.pem does not match ca.pem")
	}
}

func TestCreateCARefusesOverwrite(t *testing.T) {
	dir := newCA(t, time.Now())
	before, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))

	_, _, err := CreateCA(CAOptions{Dir: dir, Days: 30})
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("second CreateCA err = %v, want an error that names -force", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if string(before) != string(after) {
		t.Error("a refused CreateCA changed ca.pem")
	}

	if _, _, err := CreateCA(CAOptions{Dir: dir, Days: 30, Force: true}); err != nil {
		t.Fatalf("CreateCA with Force: %v", err)
	}
	forced, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if string(forced) == string(before) {
		t.Error("CreateCA with Force kept the old ca.pem")
	}
	info, _ := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("overwritten key file mode = %o, want 600", mode)
	}
}

func TestIssueNodeCert(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	certPath, keyPath := issue(t, dir, "master-1", now, 90, "master-1.example", "10.0.0.5", "::1", "MASTER-1")
	if filepath.Base(certPath) != "master-1.pem" || filepath.Base(keyPath) != "master-1-key.pem" {
		t.Errorf("files = %s, %s; want master-1.pem and master-1-key.pem", certPath, keyPath)
	}
	cert := parseCertFile(t, certPath)
	ca := parseCertFile(t, filepath.Join(dir, "ca.pem"))

	if cert.Subject.CommonName != "master-1" {
		t.Errorf("common name = %q, want master-1", cert.Subject.CommonName)
	}
	if want := []string{"master-1", "master-1.example"}; !slices.Equal(cert.DNSNames, want) {
		t.Errorf("DNS names = %v, want %v", cert.DNSNames, want)
	}
	if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) || !cert.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses = %v, want [10.0.0.5 ::1]", cert.IPAddresses)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Error("certificate lacks the server auth usage")
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Error("certificate lacks the client auth usage")
	}
	if cert.IsCA {
		t.Error("node certificate is a CA")
	}
	if left := cert.NotAfter.Sub(now); left < 89*24*time.Hour || left > 91*24*time.Hour {
		t.Errorf("certificate valid for %s, want 90 days", left)
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("chain with usage %v does not verify: %v", usage, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "master-1.example"}); err != nil {
		t.Errorf("certificate does not verify for its -host name: %v", err)
	}

	info, _ := os.Stat(keyPath)
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	if _, err := LoadKeyPair(File{Path: certPath, Setting: "c"}, File{Path: keyPath, Setting: "k"}, now); err != nil {
		t.Errorf("key does not match the certificate: %v", err)
	}
}

func TestIssueNodeCertNameNotDNS(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	certPath, _ := issue(t, dir, "worker_7:a", now, 30)
	cert := parseCertFile(t, certPath)
	if cert.Subject.CommonName != "worker_7:a" {
		t.Errorf("common name = %q", cert.Subject.CommonName)
	}
	if len(cert.DNSNames) != 0 {
		t.Errorf("DNS names = %v, want none for a node name that is no DNS name", cert.DNSNames)
	}
}

func TestIssueNodeCertErrors(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	tests := []struct {
		name string
		opts CertOptions
		want string
	}{
		{"missing CA", CertOptions{CADir: t.TempDir(), Name: "w1", Days: 1}, "CA not found"},
		{"bad host", CertOptions{CADir: dir, Name: "w1", Days: 1, Hosts: []string{"exa mple"}}, `invalid -host "exa mple"`},
		{"bad IPv4 host", CertOptions{CADir: dir, Name: "w1", Days: 1, Hosts: []string{"999.1.1.1"}}, `invalid -host "999.1.1.1": not a valid IPv4 address`},
		{"empty host", CertOptions{CADir: dir, Name: "w1", Days: 1, Hosts: []string{"a", ""}}, "empty entry"},
		{"wildcard host", CertOptions{CADir: dir, Name: "w1", Days: 1, Hosts: []string{"*.example"}}, "wildcard"},
		{"label with dash", CertOptions{CADir: dir, Name: "w1", Days: 1, Hosts: []string{"-a.example"}}, "must be 1 to 63"},
		{"zero days", CertOptions{CADir: dir, Name: "w1", Days: 0}, "invalid -days 0"},
		{"too many days", CertOptions{CADir: dir, Name: "w1", Days: MaxDays + 1}, "invalid -days"},
		{"past the CA", CertOptions{CADir: dir, Name: "w1", Days: DefaultCADays + 10}, "outlive its CA"},
		{"no name", CertOptions{CADir: dir, Days: 1}, "missing node name"},
		{"path in name", CertOptions{CADir: dir, Name: "../w1", Days: 1}, "path separators"},
		{"dot name", CertOptions{CADir: dir, Name: "..", Days: 1}, "not a valid file name"},
	}
	for _, tt := range tests {
		tt.opts.OutDir = t.TempDir()
		_, _, err := IssueNodeCert(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestIssueNodeCertRefusesOverwrite(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "w1", now, 30)
	_, _, err := IssueNodeCert(CertOptions{CADir: dir, Name: "w1", OutDir: dir, Days: 30})
	if err == nil || !strings.Contains(err.Error(), "w1.pem already exists") {
		t.Errorf("second IssueNodeCert err = %v, want w1.pem already exists", err)
	}
	if _, _, err := IssueNodeCert(CertOptions{CADir: dir, Name: "w1", OutDir: dir, Days: 30, Force: true}); err != nil {
		t.Errorf("IssueNodeCert with Force: %v", err)
	}
}

func TestIssueNodeCertMismatchedCAKey(t *testing.T) {
	now := time.Now()
	dir, other := newCA(t, now), newCA(t, now)
	data, _ := os.ReadFile(filepath.Join(other, "ca-key.pem"))
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := IssueNodeCert(CertOptions{CADir: dir, Name: "w1", OutDir: t.TempDir(), Days: 1})
	if err == nil || !strings.Contains(err.Error(), "does not match the CA certificate") {
		t.Errorf("err = %v, want the CA key mismatch", err)
	}
}
