package config

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"512KiB", 512 << 10, ""},
		{"64MiB", 64 << 20, ""},
		{"64 MiB", 64 << 20, ""},
		{" 1GiB ", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"100kB", 100_000, ""},
		{"10MB", 10_000_000, ""},
		{"3GB", 3_000_000_000, ""},
		{"1TB", 1_000_000_000_000, ""},
		{"7B", 7, ""},
		{"9223372036854775807", math.MaxInt64, ""},
		{"9223372036854775808", 0, "must be at most 9223372036854775807 bytes"},
		{"8388608TiB", 0, "must be at most 9223372036854775807 bytes"},
		{"", 0, "must be a whole number of bytes"},
		{"MiB", 0, "must be a whole number of bytes"},
		{"-1", 0, "must be a whole number of bytes"},
		{"1.5GiB", 0, `unknown unit ".5GiB"`},
		{"1KB", 0, `unknown unit "KB"`},
		{"1mib", 0, `unknown unit "mib"`},
		{"1 GiB extra", 0, `unknown unit "GiB extra"`},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseSize(%q) error %v, want %d", tt.in, err, tt.want)
		case tt.err == "" && got != tt.want:
			t.Errorf("parseSize(%q) = %d, want %d", tt.in, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseSize(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "1"}, {1023, "1023"}, {1024, "1KiB"}, {64 << 20, "64MiB"}, {1 << 30, "1GiB"},
		{1000, "1kB"}, {1_000_000, "1MB"}, {65600 << 10, "65600KiB"}, {1<<20 + 1, "1048577"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.in); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := parseSize(formatSize(tt.in)); err != nil || back != tt.in {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v; want the same number", tt.in, back, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{500 * time.Millisecond, "500ms"}, {30 * time.Second, "30s"}, {10 * time.Minute, "10m"},
		{24 * time.Hour, "24h"}, {90 * time.Minute, "1h30m"}, {time.Hour + time.Second, "1h0m1s"}, {0, "0s"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.in); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		err string
	}{
		{"0.0.0.0:7946", ""},
		{":7946", ""},
		{"127.0.0.1:0", ""},
		{"[::1]:65535", ""},
		{"[fe80::1%eth0]:7946", ""},
		{"localhost:7946", ""},
		{"node-1.example.com.:7946", ""},
		{"7946", "must be host:port"},
		{"::1:7946", "must be host:port"},
		{"host:port", `port "port" must be a number from 0 to 65535`},
		{"host:-1", `port "-1" must be a number from 0 to 65535`},
		{"host:65536", `port "65536" must be a number from 0 to 65535`},
		{"-bad-.example:1", `host "-bad-.example" must be an IP address or a DNS name`},
		{"1.2.3.4.5:1", `host "1.2.3.4.5" must be an IP address or a DNS name`},
		{"a..b:1", `host "a..b" must be an IP address or a DNS name`},
		{strings.Repeat("a", 64) + ".com:1", "must be an IP address or a DNS name"},
	}
	for _, tt := range tests {
		err := checkListenAddr(tt.in)
		if tt.err == "" && err != nil {
			t.Errorf("checkListenAddr(%q) = %v, want nil", tt.in, err)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("checkListenAddr(%q) = %v, want an error containing %q", tt.in, err, tt.err)
		}
	}
}

func TestNormalizePeerAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, err string
	}{
		{"10.0.0.1", "10.0.0.1:7946", ""},
		{"10.0.0.1:8000", "10.0.0.1:8000", ""},
		{"seed.example.com", "seed.example.com:7946", ""},
		{"fd00::1", "[fd00::1]:7946", ""},
		{"[fd00::1]", "[fd00::1]:7946", ""},
		{"[fd00::1]:9", "[fd00::1]:9", ""},
		{":7946", "", "must name a host"},
		{"10.0.0.1:0", "", `port "0" must be a number from 1 to 65535`},
		{"", "", "must be host:port"},
		{"a b", "", "must be host:port"},
	}
	for _, tt := range tests {
		got, err := normalizePeerAddr(tt.in, defaultGossipPort)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("normalizePeerAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("normalizePeerAddr(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.err)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := keysIn("")
	tests := []struct{ in, want string }{
		{"advertize", "advertise"},
		{"adress", ""},
		{"hearbeat_intervall", "heartbeat_interval"},
		{"retry_backof_max", "retry_backoff_max"},
		{"timeout", "task_timeout"},
		{"Data_Dir", "data_dir"},
		{"max_payload", "max_payload_bytes"},
		{"zzz", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := suggest("popluation", keysIn(blockWorker)); got != "population" {
		t.Errorf("suggest(popluation) in the worker block = %q, want population", got)
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3},
		{"popluation", "population", 1}, {"ab", "ba", 1}, {"advertize", "advertise", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
