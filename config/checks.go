package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// oneOf accepts one of values, in any letter case, and returns it in lower
// case.
func oneOf(values ...string) func(any) (any, error) {
	return func(v any) (any, error) {
		s := strings.ToLower(strings.TrimSpace(v.(string)))
		if !slices.Contains(values, s) {
			return nil, fmt.Errorf("must be one of %s", strings.Join(values, ", "))
		}
		return s, nil
	}
}

// intRange accepts min..max, or min and above when max is 0.
func intRange(minimum, maximum int) func(any) (any, error) {
	return func(v any) (any, error) {
		n := v.(int)
		if maximum == 0 && n < minimum {
			return nil, fmt.Errorf("must be at least %d", minimum)
		}
		if maximum != 0 && (n < minimum || n > maximum) {
			return nil, fmt.Errorf("must be from %d to %d", minimum, maximum)
		}
		return n, nil
	}
}

// sizeRange accepts min..max bytes, or min and above when max is 0.
func sizeRange(minimum, maximum int64) func(any) (any, error) {
	return func(v any) (any, error) {
		n := v.(int64)
		if n < minimum {
			return nil, fmt.Errorf("must be at least %s", bytesText(minimum))
		}
		if maximum != 0 && n > maximum {
			return nil, fmt.Errorf("must be at most %s", bytesText(maximum))
		}
		return n, nil
	}
}

// bytesText writes n as "1 byte", "100 bytes" or "65537 bytes", adding the
// form with a unit when there is one: "1073741824 bytes (1GiB)".
func bytesText(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	text := fmt.Sprintf("%d bytes", n)
	if short := formatSize(n); short != strconv.FormatInt(n, 10) {
		text += " (" + short + ")"
	}
	return text
}

func positiveDuration(v any) (any, error) {
	if d := v.(time.Duration); d <= 0 {
		return nil, fmt.Errorf("must be longer than 0, %s", durationExample)
	}
	return v, nil
}

// optionalDuration accepts 0, which means the global setting applies, and
// positive durations.
func optionalDuration(v any) (any, error) {
	if d := v.(time.Duration); d < 0 {
		return nil, errors.New("must not be negative; 0 means the global setting applies")
	}
	return v, nil
}

// optionalAttempts accepts 0, which means the global max_attempts applies,
// and 1 to 1000.
func optionalAttempts(v any) (any, error) {
	if n := v.(int); n < 0 || n > maxAttemptsMax {
		return nil, fmt.Errorf("must be from 1 to %d, or 0 for the global max_attempts", maxAttemptsMax)
	}
	return v, nil
}

func listenAddr(v any) (any, error) {
	addr := strings.TrimSpace(v.(string))
	return addr, checkListenAddr(addr)
}

// peerAddr checks an advertise address. The value keeps its form because a
// missing port becomes the bind port, which is known only after merging.
func peerAddr(v any) (any, error) {
	addr := strings.TrimSpace(v.(string))
	if addr == "" {
		return addr, nil
	}
	_, err := normalizePeerAddr(addr, defaultGossipPort)
	return addr, err
}

func joinList(v any) (any, error) {
	seeds := v.([]string)
	out := make([]string, 0, len(seeds))
	for _, seed := range seeds {
		addr, err := normalizePeerAddr(strings.TrimSpace(seed), defaultGossipPort)
		if err != nil {
			return nil, fmt.Errorf("seed %q: %w", seed, err)
		}
		out = append(out, addr)
	}
	return out, nil
}

func checkNodeName(v any) (any, error) {
	name := v.(string)
	switch {
	case name == "":
		return nil, errors.New("must not be empty")
	case !utf8.ValidString(name):
		return nil, errors.New("must be valid UTF-8")
	case utf8.RuneCountInString(name) > maxNodeName:
		return nil, fmt.Errorf("must be at most %d characters", maxNodeName)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return nil, fmt.Errorf("must not contain whitespace or control characters (found %q)", r)
		}
	}
	return name, nil
}

func absPath(v any) (any, error) {
	path := v.(string)
	if !filepath.IsAbs(path) {
		return nil, errors.New("must be an absolute path such as \"/var/lib/lbd\"")
	}
	if strings.ContainsRune(path, 0) {
		return nil, errors.New("must not contain a NUL byte")
	}
	return filepath.Clean(path), nil
}

var builtinNames = []string{BuiltinEcho, BuiltinSleep}

func builtinList(v any) (any, error) {
	names := v.([]string)
	for i, name := range names {
		if !slices.Contains(builtinNames, name) {
			return nil, fmt.Errorf("unknown built-in handler %q: the built-ins are %s", name, strings.Join(builtinNames, ", "))
		}
		if slices.Contains(names[:i], name) {
			return nil, fmt.Errorf("built-in handler %q is listed twice", name)
		}
	}
	return names, nil
}

// checkName checks the name of a handler or task type: 1 to 64 characters
// of A-Z, a-z, 0-9, '_', '.', '-'.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("must be 1 to 64 characters long, not %d", len(name))
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
		if !ok {
			return fmt.Errorf("must contain only letters, digits, '_', '.' and '-' (found %q)", r)
		}
	}
	return nil
}

// checkCommand checks a handler command: a program name or path, then its
// arguments. No shell parses it.
func checkCommand(command []string) error {
	if len(command) == 0 {
		return errors.New(`must not be empty: give the program and its arguments, such as ["/usr/bin/sha256sum"]`)
	}
	prog := command[0]
	if strings.TrimSpace(prog) == "" {
		return errors.New("must start with a program name or path, not an empty string")
	}
	if !strings.ContainsRune(prog, '/') && strings.ContainsFunc(prog, unicode.IsSpace) {
		return fmt.Errorf("program %q contains a space: no shell splits the command, so give each argument its own string, such as [%q, ...]",
			prog, strings.Fields(prog)[0])
	}
	for i, arg := range command {
		if strings.ContainsRune(arg, 0) {
			return fmt.Errorf("item %d must not contain a NUL byte", i+1)
		}
	}
	return nil
}

// checkEnvName checks the name of a variable in a handler's env.
func checkEnvName(name string) error {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return fmt.Errorf("invalid variable name %q: must be non-empty without '=' or NUL", name)
	}
	return nil
}
