package wire

import (
	"bytes"
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
	mac, err := AuthMAC(newKey, nonce, "w1")
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
		if got := VerifyAuth(tt.keys, tt.nonce, tt.node, mac); got != tt.want {
			t.Errorf("%s: VerifyAuth = %t, want %t", tt.name, got, tt.want)
		}
	}
	if bytes.Contains(mac, newKey) {
		t.Error("MAC contains the gossip key")
	}
}
