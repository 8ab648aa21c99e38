package config

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxKeyringBytes bounds the keyring file: a key is at most 44 characters
// of base64, so a real keyring is far smaller.
const maxKeyringBytes = 64 << 10

// redacted replaces the value of a secret setting in messages and String.
const redacted = "(redacted)"

// ParseGossipKey decodes a gossip encryption key written in standard
// base64, as `lbd keygen` prints it. The key must be 16, 24 or 32 bytes
// (AES-128, AES-192 or AES-256). Errors name the length, never the key.
func ParseGossipKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("gossip key is empty: generate one with lbd keygen")
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("gossip key of %d characters is not valid standard base64: generate one with lbd keygen", len(text))
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("gossip key is %d bytes long after base64 decoding; it must be 16, 24 or 32 bytes: generate one with lbd keygen", len(key))
}

// checkGossipKey is the check of the encrypt setting. An empty value
// leaves gossip unencrypted.
func checkGossipKey(v any) (any, error) {
	text := strings.TrimSpace(v.(string))
	if text == "" {
		return "", nil
	}
	if _, err := ParseGossipKey(text); err != nil {
		return nil, err
	}
	return text, nil
}

// ReadKeyring reads a keyring file: one base64 gossip key per line, the
// first one primary. Blank lines and lines starting with # are skipped,
// and a key listed twice counts once. Errors name the file and line and
// never a key.
func ReadKeyring(path string) ([][]byte, error) {
	data, err := readLimited(path, maxKeyringBytes, "keyring_file")
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, err := ParseGossipKey(text)
		if err != nil {
			return nil, fmt.Errorf("keyring file %s, line %d: %w", path, line, err)
		}
		if !containsKey(keys, key) {
			keys = append(keys, key)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read keyring file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("keyring file %s has no key: write one base64 key per line, the primary key first (lbd keygen prints one)", path)
	}
	return keys, nil
}

// readLimited reads the file that the setting key names, up to limit
// bytes.
func readLimited(path string, limit int64, key string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", key, path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s is larger than %s: check that %s names the right file", key, path, formatSize(limit), key)
	}
	return data, nil
}

// optionalAbsPath accepts "" (unset) or an absolute path.
func optionalAbsPath(v any) (any, error) {
	if v.(string) == "" {
		return "", nil
	}
	return absPath(v)
}

func containsKey(keys [][]byte, key []byte) bool {
	for _, k := range keys {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// finishKeyring fills GossipKeys from encrypt or keyring_file, which
// exclude each other.
func (l *loader) finishKeyring() {
	c := l.cfg
	switch {
	case c.Encrypt != "" && c.KeyringFile != "":
		l.add(l.origins["keyring_file"].problem(
			"encrypt and keyring_file are both set: use keyring_file alone, with the encrypt key as its first line", nil))
	case c.Encrypt != "":
		key, err := ParseGossipKey(c.Encrypt)
		if err != nil {
			l.add(l.origins["encrypt"].problem("invalid encrypt: "+err.Error(), err))
			return
		}
		c.GossipKeys = [][]byte{key}
	case c.KeyringFile != "":
		keys, err := ReadKeyring(c.KeyringFile)
		if err != nil {
			l.add(l.origins["keyring_file"].problem(err.Error(), err))
			return
		}
		c.GossipKeys = keys
	}
}
