package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Names of the files that CreateCA writes into its directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// Validity of new certificates, in days.
const (
	DefaultCADays   = 3650
	DefaultCertDays = 365
	MaxDays         = 36500
)

// clockSkew is how far back NotBefore is set, so that a peer whose clock
// is a few minutes behind accepts a certificate issued just now.
const clockSkew = 5 * time.Minute

// CAOptions are the inputs of CreateCA.
type CAOptions struct {
	Dir   string    // directory of ca.pem and ca-key.pem; created when missing
	Days  int       // validity, 1 to MaxDays
	Force bool      // overwrite existing files
	Now   time.Time // zero means time.Now()
}

// CreateCA writes a new cluster CA, an ECDSA P-256 key and a self-signed
// certificate, to Dir/ca.pem and Dir/ca-key.pem (mode 0600). It returns the
// two paths. Without Force it writes nothing when either file exists.
func CreateCA(opts CAOptions) (certPath, keyPath string, err error) {
	if err := checkDays(opts.Days); err != nil {
		return "", "", err
	}
	now := nowOr(opts.Now)
	certPath = filepath.Join(opts.Dir, CACertFile)
	keyPath = filepath.Join(opts.Dir, CAKeyFile)
	if !opts.Force {
		if err := rejectExisting(certPath, keyPath); err != nil {
			return "", "", err
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	// The serial in the name distinguishes CAs in messages such as
	// "signed by lbd cluster CA 3f9a0c12, not by the CA in tls_ca_file".
	name := "lbd cluster CA " + hex.EncodeToString(serial.Bytes())[:8]
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"lbd"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(0, 0, opts.Days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("create CA certificate: %w", err)
	}
	if err := writePair(opts.Dir, certPath, keyPath, der, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// CertOptions are the inputs of IssueNodeCert.
type CertOptions struct {
	CADir  string   // directory that CreateCA wrote
	Name   string   // node name: the common name and file name
	Hosts  []string // DNS names and IP addresses added as subject alternative names
	OutDir string   // directory of NAME.pem and NAME-key.pem; created when missing
	Days   int      // validity, 1 to MaxDays, and not past the CA's expiry
	Force  bool     // overwrite existing files
	Now    time.Time
}

// IssueNodeCert writes a certificate for one node, signed by the CA in
// CADir, to OutDir/NAME.pem and its ECDSA P-256 key to OutDir/NAME-key.pem
// (mode 0600). The certificate has both the server and the client auth
// extended key usage, because a node's certificate serves on the master's
// task listener and authenticates a worker. Its common name is Name. Its
// DNS names are Name (when Name is a valid DNS name) and the DNS names of
// Hosts, and its IP addresses are the IPs of Hosts. It returns the two
// paths.
func IssueNodeCert(opts CertOptions) (certPath, keyPath string, err error) {
	if err := CheckNodeName(opts.Name); err != nil {
		return "", "", err
	}
	if err := checkDays(opts.Days); err != nil {
		return "", "", err
	}
	dnsNames, ips, err := ParseHosts(opts.Hosts)
	if err != nil {
		return "", "", err
	}
	if checkDNSName(opts.Name) == nil {
		dnsNames = slices.DeleteFunc(dnsNames, func(n string) bool { return strings.EqualFold(n, opts.Name) })
		dnsNames = append([]string{opts.Name}, dnsNames...)
	}
	now := nowOr(opts.Now)
	caCert, caKey, err := readCA(opts.CADir, now)
	if err != nil {
		return "", "", err
	}
	notAfter := now.AddDate(0, 0, opts.Days)
	if notAfter.After(caCert.NotAfter) {
		return "", "", fmt.Errorf("invalid -days %d: the certificate would outlive its CA, which expires on %s: use at most %d days, or create a new CA",
			opts.Days, caCert.NotAfter.UTC().Format(time.DateOnly), int(caCert.NotAfter.Sub(now).Hours()/24))
	}

	certPath = filepath.Join(opts.OutDir, opts.Name+".pem")
	keyPath = filepath.Join(opts.OutDir, opts.Name+"-key.pem")
	if !opts.Force {
		if err := rejectExisting(certPath, keyPath); err != nil {
			return "", "", err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate node key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: opts.Name, Organization: []string{"lbd"}},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", "", fmt.Errorf("create the certificate of node %q: %w", opts.Name, err)
	}
	if err := writePair(opts.OutDir, certPath, keyPath, der, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// CheckNodeName checks that name can be a node certificate's common name
// and file name: 1 to 128 characters, no whitespace, control character or
// path separator, and not "." or "..".
func CheckNodeName(name string) error {
	switch {
	case name == "":
		return errors.New("missing node name: set -name to the node's name (its node setting)")
	case len([]rune(name)) > 128:
		return fmt.Errorf("invalid node name of %d characters: must be at most 128", len([]rune(name)))
	case name == "." || name == "..":
		return fmt.Errorf("invalid node name %q: not a valid file name", name)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f || r == ' ' || r == '\t' {
			return fmt.Errorf("invalid node name %q: must not contain whitespace, control characters or path separators (found %q)", name, r)
		}
	}
	return nil
}

// ParseHosts splits hosts into DNS names and IP addresses. Each entry is
// an IPv4 or IPv6 address, or a DNS name of letters, digits and '-' in
// dot-separated labels. Wildcards are rejected.
func ParseHosts(hosts []string) (dnsNames []string, ips []net.IP, err error) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, nil, errors.New("invalid -host: an empty entry; give comma-separated DNS names and IP addresses, such as master-1.example,10.0.0.5")
		}
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if err := checkDNSName(h); err != nil {
			return nil, nil, fmt.Errorf("invalid -host %q: %w", h, err)
		}
		if !containsFold(dnsNames, h) {
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips, nil
}

// checkDNSName accepts a host name of at most 253 characters in labels of
// 1 to 63 letters, digits and '-' that neither start nor end with '-'.
func checkDNSName(name string) error {
	name = strings.TrimSuffix(name, ".")
	if strings.Trim(name, "0123456789.") == "" {
		// Only digits and dots: meant as an IPv4 address, and not a valid
		// one. RFC 1123 does not allow an all-numeric top-level label.
		return errors.New("not a valid IPv4 address (four numbers of 0 to 255), and all digits cannot be a DNS name")
	}
	if strings.HasPrefix(name, "*.") {
		return errors.New("wildcard names are not supported: list each host")
	}
	if name == "" || len(name) > 253 {
		return errors.New("not an IP address, and not a DNS name of 1 to 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("not an IP address, and not a DNS name: each dot-separated label must be 1 to 63 characters and not start or end with '-'")
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
			if !ok {
				return fmt.Errorf("not an IP address, and not a DNS name: %q is not a letter, digit or '-'", r)
			}
		}
	}
	return nil
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func checkDays(days int) error {
	if days < 1 || days > MaxDays {
		return fmt.Errorf("invalid -days %d: must be from 1 to %d", days, MaxDays)
	}
	return nil
}

func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// newSerial returns a random 128-bit serial number.
func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never 0
}

// readCA reads the CA that CreateCA wrote to dir and checks that its key
// matches its certificate and that it is valid at now.
func readCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath := filepath.Join(dir, CACertFile)
	keyPath := filepath.Join(dir, CAKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("CA not found: %s does not exist: create the CA with lbd tls-ca -out %s, or set -ca to the directory of ca.pem and ca-key.pem", p, dir)
		}
	}
	certs, err := readCertificates(File{Path: certPath, Setting: "-ca"})
	if err != nil {
		return nil, nil, err
	}
	ca := certs[0]
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate: set -ca to the directory that lbd tls-ca wrote", certPath)
	}
	signer, err := readPrivateKey(File{Path: keyPath, Setting: "-ca"})
	if err != nil {
		return nil, nil, err
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not match the CA certificate %s: keep the two files that lbd tls-ca wrote together", keyPath, certPath)
	}
	if now.After(ca.NotAfter) {
		return nil, nil, fmt.Errorf("the CA in %s expired on %s: create a new CA with lbd tls-ca and issue new node certificates",
			certPath, ca.NotAfter.UTC().Format(time.RFC3339))
	}
	return ca, key, nil
}

// rejectExisting returns an error naming the first path that exists.
func rejectExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists: add -force to overwrite it, or choose another directory with -out", p)
		}
	}
	return nil
}

// writePair writes a certificate (mode 0644) and its key (mode 0600) into
// dir, each through a temporary file renamed into place, so that a reader
// never sees half a file.
func writePair(dir, certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return writeFileAtomic(certPath, certPEM, 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
