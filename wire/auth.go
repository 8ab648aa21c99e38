package wire

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"hash"
)

// NonceSize is the length of a Challenge nonce.
const NonceSize = 32

// authInfo separates the task-connection key from other keys that could
// be derived from the same gossip key. authInfoBound is the label of the
// key of a handshake bound to a TLS session, so that a MAC of a plain
// handshake never verifies on a TLS one or the reverse.
const (
	authInfo      = "lbd task connection auth v1"
	authInfoBound = "lbd task connection auth tls v1"
)

// ExporterLabel is the label of the TLS keying material (RFC 8446,
// section 7.5) that binds the gossip-key handshake to one TLS session.
const ExporterLabel = "EXPORTER-lbd-task-auth"

// BindingSize is the length of a channel binding.
const BindingSize = 32

// ChannelBinding returns the keying material that both ends of one TLS
// session export under ExporterLabel. A man in the middle who terminates
// TLS runs two sessions with different material, so a MAC that includes
// it verifies on neither of them.
func ChannelBinding(cs tls.ConnectionState) ([]byte, error) {
	b, err := cs.ExportKeyingMaterial(ExporterLabel, nil, BindingSize)
	if err != nil {
		return nil, fmt.Errorf("export TLS keying material for the channel binding: %w", err)
	}
	return b, nil
}

// Challenge requests proof that the worker holds a gossip key. A master
// whose gossip is encrypted sends it in response to Hello, and sends
// Welcome only after a valid Auth.
type Challenge struct {
	_struct struct{} `codec:",toarray"`

	Nonce []byte // NonceSize random bytes, new for every connection
}

// Auth is the worker's response to a Challenge: AuthMAC of its primary
// gossip key.
type Auth struct {
	_struct struct{} `codec:",toarray"`

	MAC []byte
}

// NewNonce returns NonceSize random bytes for a Challenge.
func NewNonce() ([]byte, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generate challenge nonce: %w", err)
	}
	return nonce, nil
}

// AuthMAC returns HMAC-SHA256(K, nonce || node), where K is derived from
// gossipKey with HKDF-SHA256. The gossip key itself never keys the MAC, so
// the MAC reveals nothing usable against gossip encryption. On a TLS
// connection binding is its ChannelBinding: the MAC is then
// HMAC-SHA256(K, nonce || binding || node) under a key derived with
// another label. A nil binding is the plain handshake.
func AuthMAC(gossipKey, nonce []byte, node string, binding []byte) ([]byte, error) {
	mac, err := keyedMAC(gossipKey, authInfo, authInfoBound, binding)
	if err != nil {
		return nil, fmt.Errorf("derive task connection key: %w", err)
	}
	mac.Write(nonce)
	mac.Write(binding)
	mac.Write([]byte(node))
	return mac.Sum(nil), nil
}

// keyedMAC returns an HMAC-SHA256 keyed with a key derived from gossipKey
// under info, or under boundInfo when binding is not nil.
func keyedMAC(gossipKey []byte, info, boundInfo string, binding []byte) (hash.Hash, error) {
	if binding != nil {
		info = boundInfo
	}
	k, err := hkdf.Key(sha256.New, gossipKey, nil, info, sha256.Size)
	if err != nil {
		return nil, err
	}
	return hmac.New(sha256.New, k), nil
}

// VerifyAuth reports whether mac is AuthMAC of any of keys, in constant
// time per key.
func VerifyAuth(keys [][]byte, nonce []byte, node string, binding, mac []byte) bool {
	return MatchAuth(keys, nonce, node, binding, mac) != nil
}

// MatchAuth returns the key of keys whose AuthMAC is mac, or nil. Every
// key is tried, so the time does not depend on which one matches.
func MatchAuth(keys [][]byte, nonce []byte, node string, binding, mac []byte) []byte {
	var match []byte
	for _, k := range keys {
		want, err := AuthMAC(k, nonce, node, binding)
		if err == nil && hmac.Equal(want, mac) && match == nil {
			match = k
		}
	}
	return match
}

// proofInfo derives the master's proof key, apart from the worker's, and
// proofInfoBound the key of a proof bound to a TLS session.
const (
	proofInfo      = "lbd task connection master proof v1"
	proofInfoBound = "lbd task connection master proof tls v1"
)

// MasterProof returns HMAC-SHA256(K', workerNonce || node), where K' is
// derived from gossipKey with HKDF-SHA256 under another label than
// AuthMAC's key, so that neither side's MAC can stand in for the other's.
// A non-nil binding is mixed in as in AuthMAC.
func MasterProof(gossipKey, workerNonce []byte, node string, binding []byte) ([]byte, error) {
	mac, err := keyedMAC(gossipKey, proofInfo, proofInfoBound, binding)
	if err != nil {
		return nil, fmt.Errorf("derive master proof key: %w", err)
	}
	mac.Write(workerNonce)
	mac.Write(binding)
	mac.Write([]byte(node))
	return mac.Sum(nil), nil
}

// VerifyMasterProof reports whether proof is MasterProof of workerNonce
// under gossipKey and binding.
func VerifyMasterProof(gossipKey, workerNonce []byte, node string, binding, proof []byte) bool {
	want, err := MasterProof(gossipKey, workerNonce, node, binding)
	return err == nil && hmac.Equal(want, proof)
}
