package membership

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/memberlist"
)

// ErrKeyMismatch marks a join that failed because the peers' gossip
// encryption does not match this node's: another key, or encryption on one
// side only.
var ErrKeyMismatch = errors.New("gossip key mismatch")

// keyMismatchHint is the operator's fix for a key mismatch.
const keyMismatchHint = "give every node the same encrypt key or keyring_file, and during a rotation keep the old key in the keyring until every node has the new one"

// keyMismatchTexts are the messages memberlist v0.7 uses when encryption
// does not match; the log adapter and JoinSeeds look for them.
var keyMismatchTexts = []string{
	"no installed keys could decrypt the message",
	"remote state is encrypted and encryption is not configured",
	"encryption is configured but remote state is not encrypted",
	"decrypt packet failed",
}

// isKeyMismatch reports whether a memberlist message or error text is about
// mismatched gossip encryption.
func isKeyMismatch(text string) bool {
	text = strings.ToLower(text)
	for _, t := range keyMismatchTexts {
		if strings.Contains(text, t) {
			return true
		}
	}
	return false
}

// newKeyring returns a memberlist keyring of keys, the first primary, or
// nil for no keys.
func newKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	kr, err := memberlist.NewKeyring(keys[1:], keys[0])
	if err != nil {
		return nil, fmt.Errorf("gossip keyring: %w", err)
	}
	return kr, nil
}

// Encrypted reports whether gossip on this node is encrypted.
func (m *Membership) Encrypted() bool { return m.keyring != nil }

// Keys returns the gossip keys, the primary first, or nil when gossip is
// not encrypted.
func (m *Membership) Keys() [][]byte {
	if m.keyring == nil {
		return nil
	}
	return m.keyring.GetKeys()
}

// PrimaryKey returns the key that encrypts outgoing gossip, or nil.
func (m *Membership) PrimaryKey() []byte {
	if m.keyring == nil {
		return nil
	}
	return m.keyring.GetPrimaryKey()
}

// SetKeys makes keys the keyring, keys[0] primary: it installs the new
// keys, switches the primary key and then removes the keys that are no
// longer listed, so gossip keeps working at every step. A node started
// without encryption cannot turn it on, and one started with it cannot
// turn it off, without a restart.
func (m *Membership) SetKeys(keys [][]byte) error {
	if m.keyring == nil {
		if len(keys) == 0 {
			return nil
		}
		return errors.New("gossip encryption cannot be turned on by a reload: restart the node to apply encrypt or keyring_file")
	}
	if len(keys) == 0 {
		return errors.New("gossip encryption cannot be turned off by a reload: restart the node to remove encrypt or keyring_file")
	}
	for _, k := range keys {
		if err := m.keyring.AddKey(k); err != nil {
			return fmt.Errorf("install gossip key: %w", err)
		}
	}
	if err := m.keyring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("use primary gossip key: %w", err)
	}
	for _, k := range m.keyring.GetKeys() {
		if !containsKey(keys, k) {
			if err := m.keyring.RemoveKey(k); err != nil {
				return fmt.Errorf("remove gossip key: %w", err)
			}
		}
	}
	return nil
}

func containsKey(keys [][]byte, key []byte) bool {
	for _, k := range keys {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}
