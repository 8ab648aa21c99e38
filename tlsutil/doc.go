// Package tlsutil creates and loads the certificates of an lbd cluster and
// builds the TLS configurations of its task transport and HTTP API.
//
// A cluster CA (CreateCA, as lbd tls-ca runs it) signs one certificate per
// node (IssueNodeCert, as lbd tls-cert runs it) that serves as both a
// server and a client certificate. LoadNode reads a node's CA,
// certificate and key and checks them the way a TLS peer would, so that a
// bad file stops start-up with a message that names the file and the fix
// instead of failing every handshake later. A Store holds the certificates
// in use, so that a reload swaps them for new connections.
package tlsutil
