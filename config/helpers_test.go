package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes content to lbd.hcl in a new temporary directory and
// returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lbd.hcl")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// loadWith runs load with args and the variables in env ("NAME=value").
func loadWith(t *testing.T, args []string, env ...string) (*Config, error) {
	t.Helper()
	return load(args, listEnvironment(env), io.Discard)
}

// mustLoad runs loadWith and fails the test on an error.
func mustLoad(t *testing.T, args []string, env ...string) *Config {
	t.Helper()
	c, err := loadWith(t, args, env...)
	if err != nil {
		t.Fatalf("load %q with %q: unexpected error:\n%v", args, env, err)
	}
	return c
}

// problemsOf returns the problems of err, which must be an *Error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return cerr.Problems
}

// relPos strips the directory of path from a problem position, so that
// "/tmp/x/lbd.hcl:3:1" reads "lbd.hcl:3:1".
func relPos(path, pos string) string {
	return strings.TrimPrefix(pos, filepath.Dir(path)+string(filepath.Separator))
}

// findProblem returns the problem at pos whose message contains msg.
func findProblem(ps []Problem, pos, msg string, rel func(string) string) (Problem, bool) {
	for _, p := range ps {
		if rel(p.Pos) == pos && strings.Contains(p.Msg, msg) {
			return p, true
		}
	}
	return Problem{}, false
}

func formatProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n\t" + p.String())
	}
	return b.String()
}
