// Package packaging tests the shipped artifacts: the container image under
// docker (make container-test) and the .deb under systemd as pid 1 (make
// systemd-test). Both are skipped unless their variable is set.
package packaging

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// docker runs the docker CLI and returns its trimmed standard output.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dockerOutput(args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func dockerOutput(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &dockerError{err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return strings.TrimSpace(string(out)), nil
}

type dockerError struct {
	err    error
	stderr string
}

func (e *dockerError) Error() string { return e.err.Error() + ": " + e.stderr }

// requireDocker skips the test unless variable is 1 and the docker daemon
// answers.
func requireDocker(t *testing.T, variable, target string) {
	t.Helper()
	if os.Getenv(variable) != "1" {
		t.Skipf("set %s=1 (make %s) to run this test against docker", variable, target)
	}
	if _, err := dockerOutput("info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("docker is not usable here, so %s cannot run: %v", target, err)
	}
}

// uniqueName returns prefix plus random hex, for containers and networks
// that must not collide with other runs.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// waitUntil polls cond every 200ms until it returns true or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cond()
}
