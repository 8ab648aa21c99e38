package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// MinVersion is the oldest TLS version of the task transport.
const MinVersion = tls.VersionTLS13

// APIMinVersion is the oldest TLS version of the HTTP API, which serves
// curl and browsers as well as lbd's own client.
const APIMinVersion = tls.VersionTLS12

// Store holds the certificates in use. A reload replaces them with Set,
// and every configuration from a Store reads them per handshake, so new
// connections use the new certificates and open ones keep theirs. It is
// safe for concurrent use.
type Store struct {
	current atomic.Pointer[Certs]
}

// NewStore returns a Store that holds c.
func NewStore(c *Certs) *Store {
	s := &Store{}
	s.current.Store(c)
	return s
}

// Certs returns the certificates in use.
func (s *Store) Certs() *Certs { return s.current.Load() }

// Set replaces the certificates for the handshakes that start after it.
func (s *Store) Set(c *Certs) { s.current.Store(c) }

// ServerConfig returns the configuration of the master's task listener:
// TLS 1.3, the node certificate, and a client certificate that must chain
// to the CA and allow client auth. Session tickets are off, so every
// connection presents and verifies its certificate.
func (s *Store) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			certs := s.Certs()
			return &tls.Config{
				MinVersion:   MinVersion,
				Certificates: []tls.Certificate{certs.Certificate},
				// RequireAnyClientCert makes the handshake fail with the
				// certificate_required alert when a worker sends none,
				// which informs the worker what it lacks. VerifyConnection
				// then checks the chain, with messages that name the CA.
				ClientAuth: tls.RequireAnyClientCert,
				VerifyConnection: func(cs tls.ConnectionState) error {
					return certs.VerifyPeer(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, "")
				},
				SessionTicketsDisabled: true,
			}, nil
		},
		SessionTicketsDisabled: true,
	}
}

// ClientConfig returns the configuration of a worker's connection to the
// master named master: TLS 1.3 with the node certificate as the client
// certificate. The master's certificate must chain to the CA, allow server
// auth and name master in its common name or a DNS name. Its IP addresses
// and the address dialed are not checked, because the worker learns the
// master's task address from gossip, and that may be an IP that the
// certificate does not list.
func (s *Store) ClientConfig(master string) *tls.Config {
	certs := s.Certs()
	return &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{certs.Certificate},
		// The standard verification checks the dialed host name, so it
		// is replaced by VerifyConnection, which checks the chain, the
		// usage and the master's node name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return certs.VerifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, master)
		},
	}
}

// APIConfig returns the configuration of the HTTPS API: TLS 1.2 or newer
// with the certificate in use at each handshake.
func (s *Store) APIConfig() *tls.Config {
	return &tls.Config{
		MinVersion: APIMinVersion,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &s.Certs().Certificate, nil
		},
	}
}

// PeerError is a peer certificate that failed verification.
type PeerError struct {
	Msg string
	Err error
}

func (e *PeerError) Error() string { return e.Msg }

func (e *PeerError) Unwrap() error { return e.Err }

// VerifyPeer checks a peer's certificate chain: the first certificate must
// chain to c's CA through the others and allow usage. A non-empty name must
// be the certificate's common name or one of its DNS names.
func (c *Certs) VerifyPeer(chain []*x509.Certificate, usage x509.ExtKeyUsage, name string) error {
	if len(chain) == 0 {
		return &PeerError{Msg: "the peer sent no certificate"}
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         c.Roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{usage},
		CurrentTime:   time.Now(),
	})
	if err != nil {
		return &PeerError{Msg: describeVerifyError(leaf, err, c.CA), Err: err}
	}
	if name != "" && !NamesNode(leaf, name) {
		return &PeerError{Msg: fmt.Sprintf("certificate %q (DNS names %s) does not name the node %q: issue the node's certificate with lbd tls-cert -name %s",
			leaf.Subject.CommonName, strings.Join(leaf.DNSNames, ", "), name, name)}
	}
	return nil
}

// NamesNode reports whether cert's common name or one of its DNS names is
// node.
func NamesNode(cert *x509.Certificate, node string) bool {
	return cert.Subject.CommonName == node || slices.ContainsFunc(cert.DNSNames, func(n string) bool {
		return strings.EqualFold(n, node)
	})
}

func describeVerifyError(leaf *x509.Certificate, err error, ca File) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("certificate %q is signed by %q, not by the CA in %s %s", leaf.Subject.CommonName, leaf.Issuer.CommonName, ca.Setting, ca.Path)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("certificate %q is expired or not yet valid (valid from %s to %s)", leaf.Subject.CommonName,
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return fmt.Sprintf("certificate %q does not allow this use (extended key usage): issue it with lbd tls-cert", leaf.Subject.CommonName)
	}
	return fmt.Sprintf("certificate %q does not verify: %v", leaf.Subject.CommonName, err)
}

// SelfSigned returns a throwaway ECDSA P-256 certificate for name, valid
// for a year. It encrypts a connection whose peers authenticate each
// other with the gossip key, so no peer verifies it.
func SelfSigned(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate throwaway TLS key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create throwaway TLS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// EncryptionServerConfig returns the configuration of a master's task
// listener that encrypts without certificates: TLS 1.3 with cert, and no
// client certificate. The gossip-key challenge, bound to the TLS session,
// authenticates both ends.
func EncryptionServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             MinVersion,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.NoClientCert,
		SessionTicketsDisabled: true,
	}
}

// EncryptionClientConfig returns the worker's side of
// EncryptionServerConfig. It accepts any server certificate: the
// master's proof of the gossip key, bound to this TLS session, is what
// authenticates it, so a man in the middle who terminates TLS fails it.
func EncryptionClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         MinVersion,
		InsecureSkipVerify: true,
	}
}
