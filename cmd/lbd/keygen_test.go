package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lbd-dev/lbd/config"
)

func TestKeygenPrintsValidKey(t *testing.T) {
	var keys []string
	for range 2 {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"keygen"}, nil, &stdout, &stderr); code != exitOK {
			t.Fatalf("lbd keygen exit code = %d, want %d; stderr: %s", code, exitOK, stderr.String())
		}
		text := strings.TrimSpace(stdout.String())
		key, err := config.ParseGossipKey(text)
		if err != nil {
			t.Fatalf("lbd keygen printed an invalid key: %v", err)
		}
		if len(key) != 32 {
			t.Errorf("key is %d bytes, want 32", len(key))
		}
		keys = append(keys, text)
	}
	if keys[0] == keys[1] {
		t.Error("two runs of lbd keygen printed the same key")
	}
}

func TestKeygenRejectsArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"keygen", "extra"}, nil, &stdout, &stderr); code != exitUsage {
		t.Errorf("lbd keygen extra: exit code = %d, want %d", code, exitUsage)
	}
	if stdout.Len() != 0 {
		t.Errorf("lbd keygen extra printed %q, want nothing on stdout", stdout.String())
	}
}
