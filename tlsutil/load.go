package tlsutil

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxPEMBytes bounds a certificate, key or CA file: a CA bundle of a few
// hundred certificates fits.
const maxPEMBytes = 1 << 20

// ExpiryWarning is how long before its expiry a certificate is reported
// by Warnings.
const ExpiryWarning = 30 * 24 * time.Hour

// File is a path and the setting that names it, which messages quote.
type File struct {
	Path    string
	Setting string // such as "tls_cert_file"
}

// FileError is a problem with one file. Its message names the setting,
// the path and the fix, and never the contents of the file.
type FileError struct {
	File
	Msg string
	Err error // the underlying error, or nil
}

func (e *FileError) Error() string {
	return e.Setting + " " + e.Path + ": " + e.Msg
}

func (e *FileError) Unwrap() error { return e.Err }

func fileError(f File, err error, format string, args ...any) *FileError {
	return &FileError{File: f, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Certs is a certificate with its private key and, for a node, the CA
// that its peers' certificates must chain to. A Certs is not modified
// after loading.
type Certs struct {
	CA, Cert, Key File

	// Roots holds the CA certificates; nil for a certificate without a CA
	// (the HTTP API's).
	Roots *x509.CertPool
	CAs   []*x509.Certificate

	// Certificate is the key pair with its chain; Certificate.Leaf is set.
	Certificate tls.Certificate
}

// Leaf returns the certificate itself, without its chain.
func (c *Certs) Leaf() *x509.Certificate { return c.Certificate.Leaf }

// Fingerprint returns the first 8 bytes of the SHA-256 of the leaf
// certificate in hex, to tell certificates apart in logs.
func (c *Certs) Fingerprint() string {
	sum := sha256.Sum256(c.Leaf().Raw)
	return hex.EncodeToString(sum[:8])
}

// Equal reports whether c and o hold the same certificates and CA.
func (c *Certs) Equal(o *Certs) bool {
	if c == nil || o == nil {
		return c == o
	}
	if len(c.Certificate.Certificate) != len(o.Certificate.Certificate) || len(c.CAs) != len(o.CAs) {
		return false
	}
	for i, der := range c.Certificate.Certificate {
		if !bytes.Equal(der, o.Certificate.Certificate[i]) {
			return false
		}
	}
	for i, ca := range c.CAs {
		if !ca.Equal(o.CAs[i]) {
			return false
		}
	}
	return true
}

// Warnings returns a message for the certificate and for each CA that
// expires within ExpiryWarning of now.
func (c *Certs) Warnings(now time.Time) []string {
	var out []string
	if w := expiryWarning(c.Cert, c.Leaf(), now); w != "" {
		out = append(out, w)
	}
	for _, ca := range c.CAs {
		if w := expiryWarning(c.CA, ca, now); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func expiryWarning(f File, cert *x509.Certificate, now time.Time) string {
	left := cert.NotAfter.Sub(now)
	if left > ExpiryWarning {
		return ""
	}
	if left <= 0 {
		return fmt.Sprintf("%s %s (%q) expired on %s: peers reject it at the next handshake; issue a new one with lbd tls-cert (lbd tls-ca for a CA) and reload with SIGHUP",
			f.Setting, f.Path, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s %s (%q) expires on %s, in %d days: issue a new one with lbd tls-cert (lbd tls-ca for a CA) and reload with SIGHUP",
		f.Setting, f.Path, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24))
}

// LoadNode reads a node's CA, certificate and key and checks them as a
// peer would: the key matches the certificate, the certificate is valid
// at now, chains to the CA and allows both server and client auth.
func LoadNode(ca, cert, key File, now time.Time) (*Certs, error) {
	cas, err := readCertificates(ca)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, fileError(ca, nil, "certificate %q is not a CA certificate: give the ca.pem that lbd tls-ca wrote", c.Subject.CommonName)
		}
		if err := checkValidity(ca, c, now); err != nil {
			return nil, err
		}
		roots.AddCert(c)
	}

	c, err := LoadKeyPair(cert, key, now)
	if err != nil {
		return nil, err
	}
	c.CA, c.Roots, c.CAs = ca, roots, cas
	leaf := c.Leaf()
	for _, usage := range []struct {
		eku  x509.ExtKeyUsage
		name string
	}{{x509.ExtKeyUsageServerAuth, "server auth"}, {x509.ExtKeyUsageClientAuth, "client auth"}} {
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: intermediates(c.Certificate.Certificate),
			KeyUsages:     []x509.ExtKeyUsage{usage.eku},
			CurrentTime:   now,
		})
		if err == nil {
			continue
		}
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		switch {
		case errors.As(err, &unknown):
			return nil, fileError(cert, err, "certificate %q is signed by %q, not by the CA in %s %s: issue it with lbd tls-cert -ca set to that CA's directory, or set %s to the CA that signed it",
				leaf.Subject.CommonName, leaf.Issuer.CommonName, ca.Setting, ca.Path, ca.Setting)
		case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
			return nil, fileError(cert, err, "certificate %q does not allow %s (extended key usage): issue one with lbd tls-cert, which allows both server and client auth",
				leaf.Subject.CommonName, usage.name)
		default:
			return nil, fileError(cert, err, "certificate %q does not verify against %s %s: %v", leaf.Subject.CommonName, ca.Setting, ca.Path, err)
		}
	}
	return c, nil
}

// LoadKeyPair reads a certificate, with any intermediate certificates
// after it, and its private key, and checks that they match and that the
// certificate is valid at now.
func LoadKeyPair(cert, key File, now time.Time) (*Certs, error) {
	chain, err := readCertificates(cert)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	signer, err := readPrivateKey(key)
	if err != nil {
		return nil, err
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, fileError(key, nil, "the private key does not match the certificate %q in %s %s: give the key file that was written with that certificate (NODE-key.pem beside NODE.pem)",
			leaf.Subject.CommonName, cert.Setting, cert.Path)
	}
	if err := checkValidity(cert, leaf, now); err != nil {
		return nil, err
	}
	ders := make([][]byte, len(chain))
	for i, c := range chain {
		ders[i] = c.Raw
	}
	return &Certs{
		Cert: cert,
		Key:  key,
		Certificate: tls.Certificate{
			Certificate: ders,
			PrivateKey:  signer,
			Leaf:        leaf,
		},
	}, nil
}

// LoadCAFile reads the CA certificates of f into a pool, for a client
// that verifies a server.
func LoadCAFile(f File) (*x509.CertPool, error) {
	cas, err := readCertificates(f)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return pool, nil
}

func checkValidity(f File, cert *x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return fileError(f, nil, "certificate %q is not valid before %s, and this host's clock reads %s: check the clock, or wait",
			cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return fileError(f, nil, "certificate %q expired on %s: issue a new one with lbd tls-cert (lbd tls-ca for a CA) and reload with SIGHUP",
			cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

func intermediates(ders [][]byte) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, der := range ders[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			pool.AddCert(c)
		}
	}
	return pool
}

// readPEM reads f, up to maxPEMBytes, and decodes its PEM blocks.
func readPEM(f File) ([]*pem.Block, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, fileError(f, err, "cannot be read: %v: check the path and that the user running lbd may read the file", errors.Unwrap(err))
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxPEMBytes+1))
	if err != nil {
		return nil, fileError(f, err, "cannot be read: %v", err)
	}
	if len(data) > maxPEMBytes {
		return nil, fileError(f, nil, "is larger than 1 MiB: check that %s names a PEM file", f.Setting)
	}
	var blocks []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// readCertificates returns the CERTIFICATE blocks of f, parsed, in order.
func readCertificates(f File) ([]*x509.Certificate, error) {
	blocks, err := readPEM(f)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	keyFound := false
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fileError(f, err, "certificate %d cannot be parsed: %v", len(certs)+1, err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			keyFound = true
		}
	}
	if len(certs) == 0 {
		if keyFound {
			return nil, fileError(f, nil, "contains a private key but no certificate: %s takes the certificate (NODE.pem or ca.pem), the key goes to the key setting", f.Setting)
		}
		return nil, fileError(f, nil, "contains no PEM CERTIFICATE block: give a PEM file such as the ones lbd tls-ca and lbd tls-cert write")
	}
	return certs, nil
}

// readPrivateKey returns the private key of f: a PKCS #8, SEC 1 (EC) or
// PKCS #1 (RSA) PEM block.
func readPrivateKey(f File) (crypto.Signer, error) {
	blocks, err := readPEM(f)
	if err != nil {
		return nil, err
	}
	certFound := false
	for _, b := range blocks {
		var key any
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "CERTIFICATE":
			certFound = true
			continue
		default:
			continue
		}
		if err != nil {
			return nil, fileError(f, err, "the %s block cannot be parsed: %v", b.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fileError(f, nil, "contains a %T key, which cannot sign: use an ECDSA, Ed25519 or RSA key", key)
		}
		return signer, nil
	}
	if certFound {
		return nil, fileError(f, nil, "contains a certificate but no private key: %s takes the key file (NODE-key.pem), the certificate goes to the certificate setting", f.Setting)
	}
	return nil, fileError(f, nil, "contains no PEM private key block: give the NODE-key.pem that lbd tls-cert wrote")
}
