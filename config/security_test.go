package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func keyText(n int, fill byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, n))
}

func TestEncryptKeyLengths(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		c := mustLoad(t, []string{"-role", "master", "-encrypt", keyText(n, 1)})
		if len(c.GossipKeys) != 1 || len(c.GossipKeys[0]) != n {
			t.Errorf("%d-byte key: GossipKeys = %d keys, want one of %d bytes", n, len(c.GossipKeys), n)
		}
	}
	for _, n := range []int{1, 15, 31, 33, 64} {
		secret := keyText(n, 2)
		_, err := loadWith(t, []string{"-role", "master"}, "LBD_ENCRYPT="+secret)
		if err == nil {
			t.Fatalf("%d-byte key accepted", n)
		}
		if want := "is " + strconv.Itoa(n) + " bytes long"; !strings.Contains(err.Error(), want) {
			t.Errorf("%d-byte key: error %q does not contain %q", n, err, want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%d-byte key: error contains the key: %v", n, err)
		}
	}
}

func TestEncryptRedactedInFileErrorAndString(t *testing.T) {
	secret := keyText(10, 3)
	_, err := LoadFile(writeConfig(t, "encrypt = \""+secret+"\"\n"))
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), ":1:1: invalid encrypt (redacted)") {
		t.Errorf("file error = %v, want a positioned error without the key", err)
	}

	good := keyText(32, 4)
	c := mustLoad(t, []string{"-role", "master", "-encrypt", good})
	if text := c.String(); strings.Contains(text, good) || !strings.Contains(text, `encrypt = "(redacted)"`) {
		t.Errorf("String() does not redact encrypt:\n%s", text)
	}
}

func TestKeyringFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring")
	primary, second := keyText(32, 5), keyText(16, 6)
	content := "# rotated keys\n\n" + primary + "\n  " + second + "  \n" + primary + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, []string{"-role", "master", "-keyring-file", path})
	if len(c.GossipKeys) != 2 {
		t.Fatalf("GossipKeys has %d keys, want 2 (the repeated key counts once)", len(c.GossipKeys))
	}
	if !bytes.Equal(c.GossipKeys[0], bytes.Repeat([]byte{5}, 32)) {
		t.Error("the first line is not the primary key")
	}

	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"empty", "# nothing\n\n", "has no key"},
		{"short key on line 2", primary + "\n" + keyText(8, 7) + "\n", "line 2: gossip key is 8 bytes long"},
		{"not base64", "not*base64\n", "line 1: gossip key of 10 characters is not valid standard base64"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadWith(t, []string{"-role", "master", "-keyring-file", path})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}

	_, err := loadWith(t, []string{"-role", "master", "-keyring-file", filepath.Join(dir, "missing")})
	if err == nil || !strings.Contains(err.Error(), "open keyring_file") {
		t.Errorf("missing file: error = %v, want it to name the file", err)
	}
	_, err = loadWith(t, []string{"-role", "master", "-keyring-file", path, "-encrypt", primary})
	if err == nil || !strings.Contains(err.Error(), "encrypt and keyring_file are both set") {
		t.Errorf("both set: error = %v, want the conflict named", err)
	}
}

func TestAPIToken(t *testing.T) {
	token := "tok-0123456789abcdef"
	c := mustLoad(t, []string{"-role", "master"}, "LBD_API_TOKEN="+token)
	if c.APIToken != token {
		t.Errorf("APIToken from LBD_API_TOKEN = %q, want %q", c.APIToken, token)
	}
	if text := c.String(); strings.Contains(text, token) {
		t.Errorf("String() contains the API token:\n%s", text)
	}

	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("  "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = mustLoad(t, []string{"-role", "master", "-api-token-file", path, "-metrics-require-token"})
	if c.APIToken != token || !c.MetricsRequireToken {
		t.Errorf("from api_token_file: APIToken %q, MetricsRequireToken %t; want %q, true", c.APIToken, c.MetricsRequireToken, token)
	}

	for _, bad := range []string{"short", "has a space in the middle", "tab\tinside-the-token-value"} {
		_, err := loadWith(t, []string{"-role", "master", "-api-token", bad})
		if err == nil {
			t.Errorf("api_token %q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error for a bad token contains it: %v", err)
		}
	}
	_, err := loadWith(t, []string{"-role", "master", "-api-token", token, "-api-token-file", path})
	if err == nil || !strings.Contains(err.Error(), "api_token and api_token_file are both set") {
		t.Errorf("both set: error = %v, want the conflict named", err)
	}
}
