package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lbd-dev/lbd/tlsutil"
)

// finishTLS loads the task transport's certificates and checks the
// settings that go with them.
func (l *loader) finishTLS() {
	c := l.cfg
	files := []struct{ key, path string }{
		{"tls_ca_file", c.TLSCAFile}, {"tls_cert_file", c.TLSCertFile}, {"tls_key_file", c.TLSKeyFile},
	}
	var set, unset []string
	for _, f := range files {
		if f.path != "" {
			set = append(set, f.key)
		} else {
			unset = append(unset, f.key)
		}
	}

	switch {
	case len(set) == 0:
		if c.TaskEncryption && c.Encrypt == "" && c.KeyringFile == "" {
			l.add(l.strongest("task_encryption").problem(
				"task_encryption needs a key to authenticate task connections: set encrypt or keyring_file (lbd keygen prints a key) on every node, "+
					"or give every node certificates with tls_ca_file, tls_cert_file and tls_key_file (lbd tls-ca, lbd tls-cert)", nil))
		}
		return
	case len(unset) > 0:
		l.add(l.strongest(set...).problem(fmt.Sprintf(
			"%s set without %s: set all three of tls_ca_file, tls_cert_file and tls_key_file (lbd tls-ca and lbd tls-cert write them), or none",
			strings.Join(set, " and "), strings.Join(unset, " and ")), nil))
		return
	case c.Dev:
		l.add(l.strongest(set...).problem(
			"tls_ca_file, tls_cert_file and tls_key_file do not apply in dev mode, whose master and worker share one configuration but need a certificate each: "+
				"use task_encryption = true with encrypt, or run a master and a worker", nil))
		return
	}

	certs, err := tlsutil.LoadNode(
		tlsutil.File{Path: c.TLSCAFile, Setting: "tls_ca_file"},
		tlsutil.File{Path: c.TLSCertFile, Setting: "tls_cert_file"},
		tlsutil.File{Path: c.TLSKeyFile, Setting: "tls_key_file"},
		time.Now())
	if err != nil {
		l.add(l.fileProblem(err, "tls_cert_file"))
		return
	}
	if leaf := certs.Leaf(); !tlsutil.NamesNode(leaf, c.Node) {
		l.add(l.strongest("tls_cert_file").problem(fmt.Sprintf(
			"tls_cert_file %s is the certificate of %q, not of this node %q: the master accepts a worker only with a certificate whose common name is its node name, "+
				"so issue one with lbd tls-cert -name %s", c.TLSCertFile, leaf.Subject.CommonName, c.Node, c.Node), nil))
		return
	}
	c.TLS = certs
	c.Warnings = append(c.Warnings, certs.Warnings(time.Now())...)
	if c.Encrypt == "" && c.KeyringFile == "" {
		c.Warnings = append(c.Warnings, "tls_* files are set without encrypt or keyring_file: gossip is not encrypted, "+
			"so any node holding a certificate from this CA can announce itself as master and workers would accept it; "+
			"set encrypt or keyring_file (lbd keygen) on every node as well")
	}
}

// finishAPITLS loads the certificate of the HTTPS API and the CA of the
// client commands.
func (l *loader) finishAPITLS() {
	c := l.cfg
	switch {
	case c.APITLSCertFile != "" && c.APITLSKeyFile == "":
		l.add(l.strongest("api_tls_cert_file").problem("api_tls_cert_file set without api_tls_key_file: set both, or neither to serve plain HTTP", nil))
	case c.APITLSCertFile == "" && c.APITLSKeyFile != "":
		l.add(l.strongest("api_tls_key_file").problem("api_tls_key_file set without api_tls_cert_file: set both, or neither to serve plain HTTP", nil))
	case c.APITLSCertFile != "":
		certs, err := tlsutil.LoadKeyPair(
			tlsutil.File{Path: c.APITLSCertFile, Setting: "api_tls_cert_file"},
			tlsutil.File{Path: c.APITLSKeyFile, Setting: "api_tls_key_file"},
			time.Now())
		if err != nil {
			l.add(l.fileProblem(err, "api_tls_cert_file"))
			break
		}
		c.APITLS = certs
		c.Warnings = append(c.Warnings, certs.Warnings(time.Now())...)
	}

	if c.APICAFile != "" {
		if _, err := tlsutil.LoadCAFile(tlsutil.File{Path: c.APICAFile, Setting: "api_ca_file"}); err != nil {
			l.add(l.fileProblem(err, "api_ca_file"))
		}
	}
}

// fileProblem returns the problem of a certificate file error at the
// origin of the setting that names the file, else at fallback's.
func (l *loader) fileProblem(err error, fallback string) Problem {
	key := fallback
	var fe *tlsutil.FileError
	if errors.As(err, &fe) {
		key = fe.Setting
	}
	return l.strongest(key).problem(err.Error(), err)
}
