package wire

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestAuthMACVerify(t *testing.T) {
	oldKey, newKey, otherKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16), bytes.Repeat([]byte{3}, 32)
	nonce, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	if len(nonce) != NonceSize {
		t.Fatalf("nonce is %d bytes, want %d", len(nonce), NonceSize)
	}
	mac, err := AuthMAC(newKey, nonce, "w1", nil)
	if err != nil {
		t.Fatal(err)
	}
	otherNonce, _ := NewNonce()
	tests := []struct {
		name  string
		keys  [][]byte
		nonce []byte
		node  string
		want  bool
	}{
		{"key in keyring", [][]byte{oldKey, newKey}, nonce, "w1", true},
		{"only key", [][]byte{newKey}, nonce, "w1", true},
		{"other key", [][]byte{oldKey, otherKey}, nonce, "w1", false},
		{"no key", nil, nonce, "w1", false},
		{"other node name", [][]byte{newKey}, nonce, "w2", false},
		{"other nonce", [][]byte{newKey}, otherNonce, "w1", false},
	}
	for _, tt := range tests {
		if got := VerifyAuth(tt.keys, tt.nonce, tt.node, nil, mac); got != tt.want {
			t.Errorf("%s: VerifyAuth = %t, want %t", tt.name, got, tt.want)
		}
	}
	if bytes.Contains(mac, newKey) {
		t.Error("MAC contains the gossip key")
	}
}

func TestAuthMACBinding(t *testing.T) {
	key := bytes.Repeat([]byte{4}, 32)
	nonce, _ := NewNonce()
	bindingA := bytes.Repeat([]byte{0xa}, BindingSize)
	bindingB := bytes.Repeat([]byte{0xb}, BindingSize)

	bound, err := AuthMAC(key, nonce, "w1", bindingA)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := AuthMAC(key, nonce, "w1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyAuth([][]byte{key}, nonce, "w1", bindingA, bound) {
		t.Error("a MAC bound to a session does not verify on that session")
	}
	if VerifyAuth([][]byte{key}, nonce, "w1", bindingB, bound) {
		t.Error("a MAC bound to one session verifies on another (a relay that terminates TLS would pass)")
	}
	if VerifyAuth([][]byte{key}, nonce, "w1", nil, bound) {
		t.Error("a bound MAC verifies on a plain connection")
	}
	if VerifyAuth([][]byte{key}, nonce, "w1", bindingA, plain) {
		t.Error("a plain MAC verifies on a TLS connection")
	}

	proof, err := MasterProof(key, nonce, "w1", bindingA)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyMasterProof(key, nonce, "w1", bindingA, proof) {
		t.Error("a bound master proof does not verify on its session")
	}
	if VerifyMasterProof(key, nonce, "w1", bindingB, proof) {
		t.Error("a bound master proof verifies on another session")
	}
	if bytes.Equal(proof, bound) {
		t.Error("the master's proof equals the worker's MAC")
	}
}

func TestAuthMACPlainUnchanged(t *testing.T) {
	// The plain handshake of earlier releases: HMAC-SHA256 keyed with
	// HKDF-SHA256(key, info "lbd task connection auth v1") over nonce || node.
	key := bytes.Repeat([]byte{5}, 16)
	nonce := bytes.Repeat([]byte{6}, NonceSize)
	k, err := hkdf.Key(sha256.New, key, nil, "lbd task connection auth v1", sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, k)
	h.Write(nonce)
	h.Write([]byte("w1"))
	got, err := AuthMAC(key, nonce, "w1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, h.Sum(nil)) {
		t.Error("the plain AuthMAC changed, so workers of the previous release cannot authenticate")
	}
}
