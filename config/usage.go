package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

const usageHeader = `Usage: lbd [flags]

Runs an lbd node: a master, a worker, or both in one process with -dev.
Settings come from built-in defaults, the HCL file named by -config, LBD_*
environment variables and flags; each source overrides the ones before it.
Every flag has a variable of the same name: -data-dir is LBD_DATA_DIR,
-population is LBD_POPULATION. An empty variable counts as unset.
LBD_HANDLER_<NAME>='["prog", "arg"]' declares an exec handler for task type
<name>, the lower-case form of NAME.

Values: DURATION is a number with a unit: 250ms, 30s, 5m, 1h30m. BYTES is a
whole number of bytes, optionally with a unit: KiB, MiB, GiB, TiB (powers of
1024) or kB, MB, GB, TB (powers of 1000). ADDR is host:port. LIST is
comma-separated; a repeated list flag adds to the list.

Flags:
`

// printUsage writes the -h text: every flag with what it sets, its unit,
// its default and its variable.
func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(usageHeader)
	fmt.Fprintf(&b, "  -config PATH\n\tHCL config file (default none) [%s]\n", envConfig)

	defaults := Defaults()
	for _, s := range settings {
		fmt.Fprintf(&b, "  -%s", s.flagName())
		if s.arg != "" {
			fmt.Fprintf(&b, " %s", s.arg)
		}
		fmt.Fprintf(&b, "\n\t%s (default %s", s.help, defaultText(s, defaults))
		if s.dev != "" {
			fmt.Fprintf(&b, "; with -dev %s", s.dev)
		}
		fmt.Fprintf(&b, ") [%s]\n", s.envName())
	}
	io.WriteString(w, b.String())
}

func defaultText(s *setting, defaults *Config) string {
	if s.def != "" {
		return s.def
	}
	return formatValue(s.ptr(defaults))
}

// formatValue writes the value behind a setting pointer the way a flag
// takes it.
func formatValue(p any) string {
	switch v := p.(type) {
	case *string:
		if *v == "" {
			return `""`
		}
		return *v
	case *bool:
		return strconv.FormatBool(*v)
	case *int:
		return strconv.Itoa(*v)
	case *int64:
		return formatSize(*v)
	case *time.Duration:
		return formatDuration(*v)
	case *[]string:
		return strings.Join(*v, ",")
	}
	return fmt.Sprint(p)
}
