package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadFile checks that LoadFile never panics and returns either a
// config or an *Error listing at least one problem.
func FuzzLoadFile(f *testing.F) {
	if example, err := os.ReadFile("../lbd.hcl.example"); err == nil {
		f.Add(example)
	}
	f.Add([]byte("advertize = \"10.0.0.5\"\n"))
	f.Add([]byte("worker {\n  population = \"many\"\n}\n"))

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(dir, "fuzz.hcl")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadFile(path)
		if (c == nil) == (err == nil) {
			t.Fatalf("LoadFile = (%v, %v), want exactly one of config and error", c, err)
		}
		if err != nil && len(problemsOf(t, err)) == 0 {
			t.Fatalf("LoadFile returned an *Error without problems")
		}
	})
}
