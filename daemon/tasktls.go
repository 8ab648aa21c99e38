package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/tlsutil"
	"github.com/lbd-dev/lbd/wire"
)

// taskTLS is the TLS side of the master's task listener.
type taskTLS struct {
	config *tls.Config
	// mutual means that a worker must present a certificate from the
	// cluster CA whose common name is its node name.
	mutual bool
}

// Modes of the task transport, as logged at start.
const (
	transportPlain        = "plain TCP"
	transportMutualTLS    = "TLS 1.3 with certificates on both ends"
	transportGossipKeyTLS = "TLS 1.3 authenticated by the gossip key"
)

// transportMode returns how cfg runs task connections.
func transportMode(cfg *config.Config) string {
	switch {
	case cfg.TLS != nil:
		return transportMutualTLS
	case cfg.TaskEncryption:
		return transportGossipKeyTLS
	}
	return transportPlain
}

// newTaskTLS returns the TLS side of a master's task listener, nil for
// plain TCP. store holds the node certificates when cfg has them.
func newTaskTLS(cfg *config.Config, store *tlsutil.Store) (*taskTLS, error) {
	switch {
	case store != nil:
		return &taskTLS{config: store.ServerConfig(), mutual: true}, nil
	case cfg.TaskEncryption:
		cert, err := tlsutil.SelfSigned(cfg.Node)
		if err != nil {
			return nil, err
		}
		return &taskTLS{config: tlsutil.EncryptionServerConfig(cert)}, nil
	}
	return nil, nil
}

// workerTLS returns the worker's TLS configuration for a connection to
// the master at addr: nil for plain TCP. With certificates, the master's
// certificate must name the master's node name that gossip reports for
// addr.
//
// NOTE: every certificate from lbd tls-cert allows server auth, so without
// gossip encryption a node that holds any certificate of the CA can claim
// the master role in gossip under its own name and pass this check. Set
// encrypt or keyring_file beside the certificates to close that.
func workerTLS(cfg *config.Config, store *tlsutil.Store, masterName func(addr string) string) func(string) (*tls.Config, error) {
	switch {
	case store != nil:
		return func(addr string) (*tls.Config, error) {
			name := masterName(addr)
			if name == "" {
				return nil, fmt.Errorf("gossip lists no master at %s, so its certificate cannot be checked; retrying", addr)
			}
			return store.ClientConfig(name), nil
		}
	case cfg.TaskEncryption:
		return func(string) (*tls.Config, error) { return tlsutil.EncryptionClientConfig(), nil }
	}
	return nil
}

// startTLS runs the server side of the TLS handshake on nc. It peeks at
// the first byte: a plain worker opens with the preamble, a TLS one with a
// handshake record. It returns nil after it logged the failure and closed
// nc.
func (s *taskServer) startTLS(nc net.Conn, remote string) *tls.Conn {
	var first [1]byte
	if _, err := io.ReadFull(nc, first[:]); err != nil {
		s.log.Warn("task connection rejected", "remote", remote, "err", fmt.Errorf("read first byte: %w", err))
		s.countConnError()
		nc.Close()
		return nil
	}
	if first[0] == wire.PreambleStart {
		s.rejectPlain(nc, remote, first[0])
		return nil
	}
	tc := tls.Server(&peekedConn{Conn: nc, first: first[:]}, s.tls.config)
	if err := tc.Handshake(); err != nil {
		s.log.Warn("task connection rejected: TLS handshake failed", "remote", remote, "err", s.describeHandshakeError(err))
		s.countConnError()
		nc.Close()
		return nil
	}
	return tc
}

// describeHandshakeError adds what to configure to a failed TLS handshake
// with a worker.
func (s *taskServer) describeHandshakeError(err error) error {
	var peer *tlsutil.PeerError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &peer) && strings.Contains(peer.Msg, "expired"):
		return fmt.Errorf("the worker's certificate is rejected: %s: make the worker a new one with lbd tls-cert -name WORKER-NODE -force and reload the worker", peer.Msg)
	case errors.As(err, &peer):
		return fmt.Errorf("the worker's certificate is rejected: %s: issue the worker's certificate with lbd tls-cert -ca DIR, where DIR holds this master's tls_ca_file", peer.Msg)
	case strings.Contains(err.Error(), "didn't provide a certificate"):
		return errors.New("the worker sent no client certificate, and this master requires one: set tls_ca_file, tls_cert_file and tls_key_file on the worker (lbd tls-cert -name WORKER-NODE)")
	case errors.As(err, &op) && op.Op == "remote error":
		return fmt.Errorf("the worker rejected this master's TLS handshake (%w), and the worker's log states the reason: with certificates, this master's tls_cert_file must come from the worker's tls_ca_file and name this master's node", err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the worker did not finish the TLS handshake within %s: %w", handshakeTimeout, err)
	}
	return err
}

// checkTLSPeer checks, with certificates, that the worker's certificate
// names the node of its Hello, and returns the session's channel binding.
func (s *taskServer) checkTLSPeer(tc *tls.Conn, hello *wire.Hello) ([]byte, error) {
	cs := tc.ConnectionState()
	if s.tls.mutual {
		if len(cs.PeerCertificates) == 0 {
			return nil, errors.New("the worker sent no client certificate")
		}
		cn := cs.PeerCertificates[0].Subject.CommonName
		if cn != hello.Node {
			return nil, fmt.Errorf("the worker's certificate is issued to node %q, but its hello names node %q: a worker connects only under the node name of its certificate (lbd tls-cert -name %s)",
				cn, hello.Node, hello.Node)
		}
	}
	return wire.ChannelBinding(cs)
}

// rejectPlain rejects a worker that speaks plain TCP to a TLS master. It
// reads the preamble and Hello to name the worker, then sends a plain
// Reject that the worker logs.
func (s *taskServer) rejectPlain(nc net.Conn, remote string, first byte) {
	const fix = "this master requires TLS on task connections: set task_encryption = true (with the cluster's gossip key) " +
		"or tls_ca_file, tls_cert_file and tls_key_file on the worker, as on the master"
	stream := &peekedConn{Conn: nc, first: []byte{first}}
	node := "unknown"
	var conn *wire.Conn
	if err := wire.ReadPreamble(stream); err == nil {
		conn = wire.NewConn(stream, s.maxFrame, s.hbTimeout)
		conn.SetMaxFrame(min(s.maxFrame, handshakeMaxFrame))
		if hello, err := readHello(conn); err == nil {
			node = hello.Node
		}
	}
	s.log.Warn("task connection rejected: the worker speaks plain TCP, "+fix, "worker", node, "remote", remote)
	s.countConnError()
	if conn == nil {
		nc.Close()
		return
	}
	conn.Send(wire.TypeReject, &wire.Reject{Reason: fix})
	conn.Flush(time.Second)
	conn.Close()
}

// rejectPreamble handles a connection whose preamble is wrong. A worker
// that opened a TLS handshake to a master without TLS gets a plain Reject
// frame, which its TLS client reports as a non-TLS response.
func (s *taskServer) rejectPreamble(nc net.Conn, remote string, err error) {
	s.countConnError()
	if !errors.Is(err, wire.ErrPeerSpeaksTLS) || s.tls != nil {
		s.log.Warn("task connection rejected", "remote", remote, "err", err)
		nc.Close()
		return
	}
	s.log.Warn("task connection rejected: the worker speaks TLS, but this master has no TLS on its task port: "+
		"set task_encryption = true or tls_ca_file, tls_cert_file and tls_key_file on the master as on the worker, or remove them from the worker",
		"remote", remote)
	conn := wire.NewConn(nc, s.maxFrame, s.hbTimeout)
	conn.Send(wire.TypeReject, &wire.Reject{Reason: "this master has no TLS on its task port"})
	conn.Flush(time.Second)
	// Closing with the ClientHello unread would reset the connection and
	// could drop the Reject before the worker reads it, so the master
	// waits until the worker closes, up to a second.
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseWrite()
		nc.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
	}
	conn.Close()
}

// peekedConn returns the bytes read to detect the protocol before the
// rest of the connection.
type peekedConn struct {
	net.Conn
	first []byte
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// logCerts logs the identity and expiry of certs, nothing when nil. The
// private key is never logged.
func logCerts(log *slog.Logger, msg string, certs *tlsutil.Certs) {
	if certs == nil {
		return
	}
	leaf := certs.Leaf()
	log.Info(msg, "file", certs.Cert.Path, "subject", leaf.Subject.CommonName, "issuer", leaf.Issuer.CommonName,
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "fingerprint", certs.Fingerprint())
}

// certCheckEvery is how often a node checks its certificates for an
// upcoming expiry after start.
const certCheckEvery = 12 * time.Hour

// watchCertExpiry logs, every certCheckEvery until done is closed, a
// warning for each certificate of stores that expires within
// tlsutil.ExpiryWarning or has expired. Start-up and reloads log the same
// warnings; this keeps them coming for a node that runs for months.
func watchCertExpiry(done <-chan struct{}, log *slog.Logger, stores ...*tlsutil.Store) {
	ticker := time.NewTicker(certCheckEvery)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			for _, s := range stores {
				if s == nil {
					continue
				}
				for _, w := range s.Certs().Warnings(now) {
					log.Warn("certificate expires soon or has expired", "warning", w)
				}
			}
		}
	}
}
