package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/lbd-dev/lbd/tlsutil"
	"github.com/lbd-dev/lbd/wire"
)

// startTLS runs the TLS handshake on nc when Config.TLS returns a
// configuration for addr. It returns the stream to speak the task protocol
// on (nc itself on plain TCP) and the session's channel binding (nil on
// plain TCP).
func (w *Worker) startTLS(ctx context.Context, nc net.Conn, addr string) (net.Conn, []byte, error) {
	if w.cfg.TLS == nil {
		return nc, nil, nil
	}
	cfg, err := w.cfg.TLS(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS configuration for master %s: %w", addr, err)
	}
	if cfg == nil {
		return nc, nil, nil
	}
	tc := tls.Client(nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(welcomeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("TLS handshake with master %s: %w", addr, w.describeTLSError(addr, err))
	}
	_ = tc.SetDeadline(time.Time{})
	binding, err := wire.ChannelBinding(tc.ConnectionState())
	if err != nil {
		return nil, nil, err
	}
	return tc, binding, nil
}

// describeTLSError adds what to configure to a TLS error of the task
// connection; other errors come back as they are. In TLS 1.3 the master
// checks the worker's certificate after the worker's side of the handshake
// is done, so its verdict arrives as an alert on the first read.
func (w *Worker) describeTLSError(addr string, err error) error {
	var header tls.RecordHeaderError
	var peer *tlsutil.PeerError
	var op *net.OpError
	switch {
	case errors.As(err, &header):
		return fmt.Errorf("master %s responded in plain TCP, so its task port has no TLS while this worker requires it: "+
			"set task_encryption = true or tls_ca_file, tls_cert_file and tls_key_file on the master as on this worker, or remove them from this worker", addr)
	case errors.As(err, &peer):
		return fmt.Errorf("the master's certificate is rejected: %w: give the master tls_ca_file, tls_cert_file and tls_key_file with a certificate from this worker's CA (lbd tls-cert -name MASTER-NODE), "+
			"or, when the cluster uses task_encryption without certificates, remove the tls_* files from this worker", peer)
	case errors.As(err, &op) && op.Op == "remote error":
		alert := op.Err.Error()
		switch {
		case strings.Contains(alert, "certificate required"):
			return fmt.Errorf("master %s requires a client certificate (%s): set tls_ca_file, tls_cert_file and tls_key_file on this worker, with a certificate made by lbd tls-cert -name %s from the master's CA",
				addr, alert, w.cfg.Node)
		case strings.Contains(alert, "bad certificate"), strings.Contains(alert, "expired certificate"):
			if notAfter, expired := w.ownCertExpired(addr); expired {
				return fmt.Errorf("master %s rejected this worker's certificate (%s): it expired at %s; make a new one with lbd tls-cert -name %s -force, install it as tls_cert_file and tls_key_file, and reload this worker",
					addr, alert, notAfter.UTC().Format(time.RFC3339), w.cfg.Node)
			}
			return fmt.Errorf("master %s rejected this worker's certificate (%s), and the master's log states the reason: this worker needs a certificate made by lbd tls-cert -name %s from the master's CA",
				addr, alert, w.cfg.Node)
		case strings.Contains(alert, "unknown certificate"):
			return fmt.Errorf("master %s rejected this worker's certificate (%s), and the master's log states the reason: this worker needs a certificate made by lbd tls-cert -name %s from the master's CA",
				addr, alert, w.cfg.Node)
		}
		return fmt.Errorf("%w: the master's log states the reason", err)
	}
	return err
}

// ownCertExpired returns the expiry of the certificate this worker
// presents to addr and whether it has passed.
func (w *Worker) ownCertExpired(addr string) (time.Time, bool) {
	cfg, err := w.cfg.TLS(addr)
	if err != nil || cfg == nil || len(cfg.Certificates) == 0 || cfg.Certificates[0].Leaf == nil {
		return time.Time{}, false
	}
	notAfter := cfg.Certificates[0].Leaf.NotAfter
	return notAfter, time.Now().After(notAfter)
}
