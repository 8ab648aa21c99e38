package wire

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// NonceSize is the length of a Challenge nonce.
const NonceSize = 32

// authInfo separates the task-connection key from other keys that could
// be derived from the same gossip key.
const authInfo = "lbd task connection auth v1"

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
// the MAC reveals nothing usable against gossip encryption.
func AuthMAC(gossipKey, nonce []byte, node string) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, gossipKey, nil, authInfo, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("derive task connection key: %w", err)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write(nonce)
	mac.Write([]byte(node))
	return mac.Sum(nil), nil
}

// VerifyAuth reports whether mac is AuthMAC of any of keys, in constant
// time per key.
func VerifyAuth(keys [][]byte, nonce []byte, node string, mac []byte) bool {
	return MatchAuth(keys, nonce, node, mac) != nil
}

// MatchAuth returns the key of keys whose AuthMAC is mac, or nil. Every
// key is tried, so the time does not depend on which one matches.
func MatchAuth(keys [][]byte, nonce []byte, node string, mac []byte) []byte {
	var match []byte
	for _, k := range keys {
		want, err := AuthMAC(k, nonce, node)
		if err == nil && hmac.Equal(want, mac) && match == nil {
			match = k
		}
	}
	return match
}

// proofInfo derives the master's proof key, apart from the worker's.
const proofInfo = "lbd task connection master proof v1"

// MasterProof returns HMAC-SHA256(K', workerNonce || node), where K' is
// derived from gossipKey with HKDF-SHA256 under another label than
// AuthMAC's key, so that neither side's MAC can stand in for the other's.
func MasterProof(gossipKey, workerNonce []byte, node string) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, gossipKey, nil, proofInfo, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("derive master proof key: %w", err)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write(workerNonce)
	mac.Write([]byte(node))
	return mac.Sum(nil), nil
}

// VerifyMasterProof reports whether proof is MasterProof of workerNonce
// under gossipKey.
func VerifyMasterProof(gossipKey, workerNonce []byte, node string, proof []byte) bool {
	want, err := MasterProof(gossipKey, workerNonce, node)
	return err == nil && hmac.Equal(want, proof)
}
