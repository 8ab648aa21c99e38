package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-dev/lbd/tlsutil"
)

// testPKI is a CA directory with certificates issued into it.
type testPKI struct {
	t   *testing.T
	dir string
}

func newTestPKI(t *testing.T, created time.Time) *testPKI {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := tlsutil.CreateCA(tlsutil.CAOptions{Dir: dir, Days: 3650, Now: created}); err != nil {
		t.Fatal(err)
	}
	return &testPKI{t: t, dir: dir}
}

// issue writes the certificate of name, issued at issued for days.
func (p *testPKI) issue(name string, issued time.Time, days int) {
	p.t.Helper()
	_, _, err := tlsutil.IssueNodeCert(tlsutil.CertOptions{CADir: p.dir, Name: name, OutDir: p.dir, Days: days, Now: issued, Force: true})
	if err != nil {
		p.t.Fatal(err)
	}
}

func (p *testPKI) ca() string              { return filepath.Join(p.dir, "ca.pem") }
func (p *testPKI) cert(name string) string { return filepath.Join(p.dir, name+".pem") }
func (p *testPKI) key(name string) string  { return filepath.Join(p.dir, name+"-key.pem") }
func (p *testPKI) flags(name string) []string {
	return []string{"-tls-ca-file", p.ca(), "-tls-cert-file", p.cert(name), "-tls-key-file", p.key(name)}
}

// masterArgs returns the arguments of a master named name with extra.
func masterArgs(name string, extra ...string) []string {
	return append([]string{"-role", "master", "-node", name}, extra...)
}

// testGossipKey is a valid encrypt value: base64 of 16 bytes.
const testGossipKey = "AAECAwQFBgcICQoLDA0ODw=="

func TestTLSFilesLoaded(t *testing.T) {
	p := newTestPKI(t, time.Now())
	p.issue("m1", time.Now(), 365)
	c := mustLoad(t, masterArgs("m1", append(p.flags("m1"), "-encrypt", testGossipKey)...))
	if c.TLS == nil {
		t.Fatal("TLS is nil with all three tls_* files set")
	}
	if got := c.TLS.Leaf().Subject.CommonName; got != "m1" {
		t.Errorf("loaded certificate of %q, want m1", got)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %q, want none for a certificate valid for a year", c.Warnings)
	}
	if text := c.String(); strings.Contains(text, "PRIVATE KEY") {
		t.Error("String() contains key material")
	}
}

func TestTLSFilesFromEnvironmentAndFile(t *testing.T) {
	p := newTestPKI(t, time.Now())
	p.issue("m1", time.Now(), 365)
	c := mustLoad(t, []string{"-role", "master", "-node", "m1"},
		"LBD_TLS_CA_FILE="+p.ca(), "LBD_TLS_CERT_FILE="+p.cert("m1"), "LBD_TLS_KEY_FILE="+p.key("m1"), "LBD_TASK_ENCRYPTION=true")
	if c.TLS == nil || !c.TaskEncryption {
		t.Errorf("environment: TLS loaded %t, task_encryption %t; want both", c.TLS != nil, c.TaskEncryption)
	}

	path := writeConfig(t, "role = \"master\"\nnode = \"m1\"\ntls_ca_file = \""+p.ca()+"\"\ntls_cert_file = \""+p.cert("m1")+
		"\"\ntls_key_file = \""+p.key("m1")+"\"\ntask_encryption = true\n")
	c, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS == nil {
		t.Error("file: TLS not loaded")
	}
}

func TestTLSWithoutGossipKeyWarns(t *testing.T) {
	p := newTestPKI(t, time.Now())
	p.issue("m1", time.Now(), 365)
	c := mustLoad(t, masterArgs("m1", p.flags("m1")...))
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "without encrypt or keyring_file") {
		t.Errorf("warnings = %q, want one that says gossip is not encrypted", c.Warnings)
	}
}

func TestTLSExpiringSoonWarns(t *testing.T) {
	p := newTestPKI(t, time.Now())
	p.issue("m1", time.Now(), 20)
	c := mustLoad(t, masterArgs("m1", append(p.flags("m1"), "-encrypt", testGossipKey)...))
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "expires on") || !strings.Contains(c.Warnings[0], p.cert("m1")) {
		t.Errorf("warnings = %q, want one that names %s and its expiry", c.Warnings, p.cert("m1"))
	}
}

func TestTLSConfigErrors(t *testing.T) {
	now := time.Now()
	p := newTestPKI(t, now)
	p.issue("m1", now, 365)
	p.issue("m2", now, 365)

	other := newTestPKI(t, now)
	other.issue("m1", now, 365)

	past := newTestPKI(t, now.AddDate(0, 0, -400))
	past.issue("m1", now.AddDate(0, 0, -400), 30)

	future := newTestPKI(t, now)
	future.issue("m1", now.AddDate(0, 0, 3), 30)

	unreadable := filepath.Join(t.TempDir(), "dir.pem")
	os.Mkdir(unreadable, 0o700)
	emptyCA := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(emptyCA, []byte("# no certificate\n"), 0o644)
	key := keyText(32, 7)

	tests := []struct {
		name string
		args []string
		env  []string
		pos  string
		want string
	}{
		{"cert without key and CA", masterArgs("m1", "-tls-cert-file", p.cert("m1")), nil,
			"flag -tls-cert-file", "tls_cert_file set without tls_ca_file and tls_key_file: set all three"},
		{"CA and cert without key", masterArgs("m1", "-tls-ca-file", p.ca(), "-tls-cert-file", p.cert("m1")), nil,
			"flag -tls-cert-file", "without tls_key_file"},
		{"task_encryption without key", masterArgs("m1", "-task-encryption"), nil,
			"flag -task-encryption", "set encrypt or keyring_file"},
		{"task_encryption error names certificates", masterArgs("m1"), []string{"LBD_TASK_ENCRYPTION=true"},
			"LBD_TASK_ENCRYPTION", "tls_ca_file, tls_cert_file and tls_key_file"},
		{"dev mode with certificates", append([]string{"-dev", "-node", "m1"}, p.flags("m1")...), nil,
			"flag -tls-key-file", "do not apply in dev mode"},
		{"certificate of another node", masterArgs("m2", p.flags("m1")...), nil,
			"flag -tls-cert-file", `is the certificate of "m1", not of this node "m2"`},
		{"unreadable certificate", masterArgs("m1", "-tls-ca-file", p.ca(), "-tls-cert-file", unreadable, "-tls-key-file", p.key("m1")), nil,
			"flag -tls-cert-file", "cannot be read"},
		{"missing key file", masterArgs("m1", "-tls-ca-file", p.ca(), "-tls-cert-file", p.cert("m1"), "-tls-key-file", p.dir+"/none.pem"), nil,
			"flag -tls-key-file", "no such file or directory"},
		{"key of another certificate", masterArgs("m1", "-tls-ca-file", p.ca(), "-tls-cert-file", p.cert("m1"), "-tls-key-file", p.key("m2")), nil,
			"flag -tls-key-file", "does not match the certificate"},
		{"certificate of another CA", masterArgs("m1", "-tls-ca-file", p.ca(), "-tls-cert-file", other.cert("m1"), "-tls-key-file", other.key("m1")), nil,
			"flag -tls-cert-file", "not by the CA in tls_ca_file"},
		{"expired certificate", masterArgs("m1", past.flags("m1")...), nil,
			"flag -tls-cert-file", "expired on"},
		{"certificate not yet valid", masterArgs("m1", future.flags("m1")...), nil,
			"flag -tls-cert-file", "is not valid before"},
		{"CA file without certificate", masterArgs("m1", "-tls-ca-file", emptyCA, "-tls-cert-file", p.cert("m1"), "-tls-key-file", p.key("m1")), nil,
			"flag -tls-ca-file", "no PEM CERTIFICATE block"},
		{"relative path", masterArgs("m1", "-tls-ca-file", "ca.pem"), nil,
			"flag -tls-ca-file", "must be an absolute path"},
		{"API certificate without key", masterArgs("m1", "-api-tls-cert-file", p.cert("m1")), nil,
			"flag -api-tls-cert-file", "api_tls_cert_file set without api_tls_key_file"},
		{"API key without certificate", masterArgs("m1", "-api-tls-key-file", p.key("m1")), nil,
			"flag -api-tls-key-file", "api_tls_key_file set without api_tls_cert_file"},
		{"API key of another certificate", masterArgs("m1", "-api-tls-cert-file", p.cert("m1"), "-api-tls-key-file", p.key("m2")), nil,
			"flag -api-tls-key-file", "does not match the certificate"},
		{"API certificate expired", masterArgs("m1", "-api-tls-cert-file", past.cert("m1"), "-api-tls-key-file", past.key("m1")), nil,
			"flag -api-tls-cert-file", "expired on"},
		{"api_ca_file without certificate", masterArgs("m1"), []string{"LBD_API_CA_FILE=" + emptyCA},
			"LBD_API_CA_FILE", "no PEM CERTIFICATE block"},
	}
	for _, tt := range tests {
		_, err := loadWith(t, tt.args, tt.env...)
		if err == nil {
			t.Errorf("%s: loaded without an error", tt.name)
			continue
		}
		ps := problemsOf(t, err)
		if _, ok := findProblem(ps, tt.pos, tt.want, func(s string) string { return s }); !ok {
			t.Errorf("%s: problems %q, want one at %q containing %q", tt.name, err, tt.pos, tt.want)
		}
		if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: error contains a secret", tt.name)
		}
	}
}

func TestTaskEncryptionWithKeyOrCertificates(t *testing.T) {
	c := mustLoad(t, masterArgs("m1", "-task-encryption", "-encrypt", keyText(32, 8)))
	if !c.TaskEncryption || c.TLS != nil {
		t.Errorf("task_encryption with a gossip key: TaskEncryption %t, TLS %v", c.TaskEncryption, c.TLS)
	}
	p := newTestPKI(t, time.Now())
	p.issue("m1", time.Now(), 30)
	c = mustLoad(t, masterArgs("m1", append(p.flags("m1"), "-task-encryption")...))
	if c.TLS == nil {
		t.Error("task_encryption with certificates and no gossip key: certificates not loaded")
	}
	c = mustLoad(t, []string{"-dev", "-task-encryption", "-encrypt", keyText(16, 9)})
	if !c.TaskEncryption {
		t.Error("dev mode rejects task_encryption with a gossip key")
	}
}
