package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestThroughputSmoke runs workload 1 with 2,000 tasks against lbd (real
// processes) and the embedded NATS JetStream, which need no installed
// package, and checks that both tables carry a measured rate for each.
func TestThroughputSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lbd and starts a cluster")
	}
	var out bytes.Buffer
	err := run([]string{"-quick", "-only", "throughput", "-tasks", "2000", "-runs", "1", "-systems", "lbd,jetstream"}, &out)
	if err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, row := range []string{"lbd memory", "jetstream memory", "lbd durable", "jetstream durable"} {
		re := regexp.MustCompile(`\| ` + row + ` \| [0-9.]+k?/s \| [0-9.]+x \|`)
		if !re.MatchString(got) {
			t.Errorf("no row %q with a rate and a ratio in the output:\n%s", row, got)
		}
	}
	if !strings.Contains(got, "cores") {
		t.Errorf("no machine line with the core count in the output:\n%s", got)
	}
}

func TestParseFlagsRejectsUnknownWorkload(t *testing.T) {
	_, _, err := parseFlags([]string{"-only", "throughput,bogus"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("parseFlags error = %v, expected one naming \"bogus\"", err)
	}
}
