package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the unit suffixes a size may carry. Binary units come first
// so that formatSize prefers them.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40},
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"TB", 1_000_000_000_000},
	{"GB", 1_000_000_000},
	{"MB", 1_000_000},
	{"kB", 1_000},
	{"B", 1},
}

const sizeRule = "must be a whole number of bytes, optionally followed by a unit: " +
	"KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000), such as \"64MiB\""

// parseSize parses a whole number of bytes with an optional unit suffix,
// such as "1048576", "512KiB", "64 MiB" or "100kB". Units are case-sensitive
// because "kb" and "KB" have no agreed meaning.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return 0, errors.New(sizeRule)
	}

	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("must be at most %d bytes: %w", int64(math.MaxInt64), err)
	}

	unit := strings.TrimSpace(s[digits:])
	if unit == "" {
		return n, nil
	}
	for _, u := range sizeUnits {
		if u.name != unit {
			continue
		}
		if n > math.MaxInt64/u.mult {
			return 0, fmt.Errorf("must be at most %d bytes", int64(math.MaxInt64))
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("unknown unit %q: %s", unit, sizeRule)
}

// formatSize writes n with the largest unit that divides it exactly,
// preferring binary units: 67108864 is "64MiB", 1000 is "1kB".
func formatSize(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if u.mult > 1 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
