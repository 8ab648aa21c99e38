package tlsutil

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeFiles returns the File values of the CA in caDir and the
// certificate of name in it.
func nodeFiles(caDir, name string) (ca, cert, key File) {
	return File{Path: filepath.Join(caDir, "ca.pem"), Setting: "tls_ca_file"},
		File{Path: filepath.Join(caDir, name+".pem"), Setting: "tls_cert_file"},
		File{Path: filepath.Join(caDir, name+"-key.pem"), Setting: "tls_key_file"}
}

// loadNode loads the certificate of name from the CA directory caDir.
func loadNode(caDir, name string, now time.Time) (*Certs, error) {
	ca, cert, key := nodeFiles(caDir, name)
	return LoadNode(ca, cert, key, now)
}

func TestLoadNode(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "w1", now, 365)
	ca, cert, key := nodeFiles(dir, "w1")
	certs, err := LoadNode(ca, cert, key, now)
	if err != nil {
		t.Fatal(err)
	}
	if certs.Leaf().Subject.CommonName != "w1" {
		t.Errorf("leaf = %q, want w1", certs.Leaf().Subject.CommonName)
	}
	if len(certs.CAs) != 1 || !certs.CAs[0].IsCA {
		t.Errorf("CAs = %d certificates, want the one CA", len(certs.CAs))
	}
	if w := certs.Warnings(now); len(w) != 0 {
		t.Errorf("warnings for a certificate valid for a year: %q", w)
	}
	again, err := LoadNode(ca, cert, key, now)
	if err != nil {
		t.Fatal(err)
	}
	if !certs.Equal(again) {
		t.Error("two loads of the same files are not Equal")
	}
}

func TestLoadNodeExpiringSoonWarns(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "w1", now, 10)
	certs, err := loadNode(dir, "w1", now)
	if err != nil {
		t.Fatal(err)
	}
	w := certs.Warnings(now)
	if len(w) != 1 {
		t.Fatalf("warnings = %q, want one", w)
	}
	if !strings.Contains(w[0], "tls_cert_file") || !strings.Contains(w[0], "in 9 days") && !strings.Contains(w[0], "in 10 days") {
		t.Errorf("warning %q does not name the file and the days left", w[0])
	}
}

func TestExpiredCertificateWarns(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "w1", now, 10)
	certs, err := loadNode(dir, "w1", now)
	if err != nil {
		t.Fatal(err)
	}
	w := certs.Warnings(now.AddDate(0, 0, 11)) // the node kept running past the expiry
	if len(w) != 1 {
		t.Fatalf("warnings = %q, want one", w)
	}
	if !strings.Contains(w[0], "expired on") || strings.Contains(w[0], "in -") {
		t.Errorf("warning %q does not say that the certificate expired", w[0])
	}
}

func TestLoadNodeErrors(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "w1", now, 365)
	issue(t, dir, "w2", now, 365)
	ca, cert, key := nodeFiles(dir, "w1")
	_, _, key2 := nodeFiles(dir, "w2")

	otherCA := newCA(t, now)
	issue(t, otherCA, "w1", now, 365)
	_, foreignCert, foreignKey := nodeFiles(otherCA, "w1")

	pastCA := newCA(t, now.AddDate(0, 0, -400))
	issue(t, pastCA, "old", now.AddDate(0, 0, -400), 30)
	pastCAFile, expiredCert, expiredKey := nodeFiles(pastCA, "old")

	futureCA := newCA(t, now)
	issue(t, futureCA, "new", now.AddDate(0, 0, 10), 30)
	futureCAFile, futureCert, futureKey := nodeFiles(futureCA, "new")

	missing := File{Path: filepath.Join(dir, "missing.pem"), Setting: "tls_cert_file"}
	garbage := File{Path: filepath.Join(dir, "garbage.pem"), Setting: "tls_cert_file"}
	os.WriteFile(garbage.Path, []byte("not pem"), 0o600)
	unreadable := File{Path: filepath.Join(dir, "unreadable"), Setting: "tls_key_file"}
	os.Mkdir(unreadable.Path, 0o700) // a directory cannot be read as a file

	tests := []struct {
		name          string
		ca, cert, key File
		setting, want string
	}{
		{"missing cert", ca, missing, key, "tls_cert_file", "no such file or directory"},
		{"unreadable key", ca, cert, unreadable, "tls_key_file", "cannot be read"},
		{"not PEM", ca, garbage, key, "tls_cert_file", "no PEM CERTIFICATE block"},
		{"key as cert", ca, File{Path: key.Path, Setting: "tls_cert_file"}, key, "tls_cert_file", "contains a private key but no certificate"},
		{"cert as key", ca, cert, File{Path: cert.Path, Setting: "tls_key_file"}, "tls_key_file", "contains a certificate but no private key"},
		{"key of another cert", ca, cert, key2, "tls_key_file", "does not match the certificate"},
		{"node cert as CA", File{Path: cert.Path, Setting: "tls_ca_file"}, cert, key, "tls_ca_file", "is not a CA certificate"},
		{"signed by another CA", ca, foreignCert, foreignKey, "tls_cert_file", "not by the CA in tls_ca_file"},
		{"expired", pastCAFile, expiredCert, expiredKey, "tls_cert_file", "expired on"},
		{"not yet valid", futureCAFile, futureCert, futureKey, "tls_cert_file", "is not valid before"},
	}
	for _, tt := range tests {
		_, err := LoadNode(tt.ca, tt.cert, tt.key, now)
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v (%T), want a *FileError", tt.name, err, err)
			continue
		}
		if fe.Setting != tt.setting {
			t.Errorf("%s: error names setting %s, want %s", tt.name, fe.Setting, tt.setting)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %q, want it to contain %q", tt.name, err, tt.want)
		}
		if !strings.Contains(err.Error(), fe.Path) {
			t.Errorf("%s: err = %q does not name the file", tt.name, err)
		}
		if strings.Contains(err.Error(), "PRIVATE KEY-----") {
			t.Errorf("%s: err contains key material", tt.name)
		}
	}
}

func TestLoadNodeCABundle(t *testing.T) {
	now := time.Now()
	oldCA, newCADir := newCA(t, now), newCA(t, now)
	issue(t, newCADir, "w1", now, 30)
	oldPEM, _ := os.ReadFile(filepath.Join(oldCA, "ca.pem"))
	newPEM, _ := os.ReadFile(filepath.Join(newCADir, "ca.pem"))
	bundle := File{Path: filepath.Join(t.TempDir(), "bundle.pem"), Setting: "tls_ca_file"}
	os.WriteFile(bundle.Path, append(oldPEM, newPEM...), 0o644)
	_, cert, key := nodeFiles(newCADir, "w1")
	certs, err := LoadNode(bundle, cert, key, now)
	if err != nil {
		t.Fatalf("a certificate of the second CA of a bundle: %v", err)
	}
	if len(certs.CAs) != 2 {
		t.Errorf("CAs = %d, want 2", len(certs.CAs))
	}
}

// handshake runs a TLS handshake between server and client configs over
// loopback and returns the two ends' errors.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		tc := tls.Server(nc, server)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			// In TLS 1.3 the server checks the client's certificate after
			// the client has finished; a read delivers any alert.
			_, err = tc.Write([]byte{1})
		}
		done <- err
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tc := tls.Client(nc, client)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	clientErr = tc.Handshake()
	if clientErr == nil {
		_, clientErr = tc.Read(make([]byte, 1))
	}
	return <-done, clientErr
}

func TestMutualTLSHandshake(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "master", now, 30, "127.0.0.1")
	issue(t, dir, "w1", now, 30)
	master, err := loadNode(dir, "master", now)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := loadNode(dir, "w1", now)
	if err != nil {
		t.Fatal(err)
	}
	serverStore, clientStore := NewStore(master), NewStore(worker)

	if serr, cerr := handshake(t, serverStore.ServerConfig(), clientStore.ClientConfig("master")); serr != nil || cerr != nil {
		t.Fatalf("mutual TLS: server err %v, client err %v", serr, cerr)
	}

	_, cerr := handshake(t, serverStore.ServerConfig(), clientStore.ClientConfig("other-master"))
	var peer *PeerError
	if !errors.As(cerr, &peer) || !strings.Contains(peer.Msg, `does not name the node "other-master"`) {
		t.Errorf("worker expecting another master: err = %v, want a PeerError about the name", cerr)
	}

	noCert := &tls.Config{MinVersion: MinVersion, InsecureSkipVerify: true}
	serr, _ := handshake(t, serverStore.ServerConfig(), noCert)
	if serr == nil || !strings.Contains(serr.Error(), "didn't provide a certificate") {
		t.Errorf("client without certificate: server err = %v", serr)
	}

	otherDir := newCA(t, now)
	issue(t, otherDir, "w1", now, 30)
	foreign, err := loadNode(otherDir, "w1", now)
	if err != nil {
		t.Fatal(err)
	}
	foreignClient := NewStore(foreign).ClientConfig("master")
	foreignClient.VerifyConnection = nil // trust the master, to reach the master's check
	serr, _ = handshake(t, serverStore.ServerConfig(), foreignClient)
	if !errors.As(serr, &peer) || !strings.Contains(peer.Msg, "not by the CA in tls_ca_file") {
		t.Errorf("client of another CA: server err = %v, want a PeerError naming the CA", serr)
	}

	tls12 := clientStore.ClientConfig("master")
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if serr, _ := handshake(t, serverStore.ServerConfig(), tls12); serr == nil || !strings.Contains(serr.Error(), "version") {
		t.Error("the task listener accepted TLS 1.2")
	}
}

func TestStoreSetRotates(t *testing.T) {
	now := time.Now()
	dir := newCA(t, now)
	issue(t, dir, "master", now, 30)
	first, err := loadNode(dir, "master", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := IssueNodeCert(CertOptions{CADir: dir, Name: "master", OutDir: dir, Days: 60, Force: true}); err != nil {
		t.Fatal(err)
	}
	second, err := loadNode(dir, "master", now)
	if err != nil {
		t.Fatal(err)
	}
	if first.Equal(second) {
		t.Fatal("a new certificate is Equal to the old one")
	}
	store := NewStore(first)
	cfg := store.APIConfig()
	got, _ := cfg.GetCertificate(nil)
	if got.Leaf != first.Leaf() {
		t.Error("APIConfig does not serve the first certificate")
	}
	store.Set(second)
	got, _ = cfg.GetCertificate(nil)
	if got.Leaf != second.Leaf() {
		t.Error("APIConfig still serves the old certificate after Set")
	}
	sc, _ := store.ServerConfig().GetConfigForClient(nil)
	if sc.Certificates[0].Leaf != second.Leaf() {
		t.Error("ServerConfig serves the old certificate after Set")
	}
}

func TestSelfSignedEncryption(t *testing.T) {
	cert, err := SelfSigned("master")
	if err != nil {
		t.Fatal(err)
	}
	if serr, cerr := handshake(t, EncryptionServerConfig(cert), EncryptionClientConfig()); serr != nil || cerr != nil {
		t.Fatalf("server err %v, client err %v", serr, cerr)
	}
	other, _ := SelfSigned("master")
	if string(other.Certificate[0]) == string(cert.Certificate[0]) {
		t.Error("two throwaway certificates are the same")
	}
}
