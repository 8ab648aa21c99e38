package config

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Variables that are not settings but that lbd reads.
const (
	envConfig        = "LBD_CONFIG"    // the config file, like -config
	envAPIToken      = "LBD_API_TOKEN" // the HTTP API token, read by the CLI and the daemon
	envHandlerPrefix = "LBD_HANDLER_"  // LBD_HANDLER_<NAME> declares an exec handler
)

// environment is the source of LBD_* variables.
type environment struct {
	names  []string // variable names to scan for LBD_HANDLER_* and unknown LBD_* names
	lookup func(string) (string, bool)
}

// processEnvironment lists names from os.Environ() and reads values through
// lookup.
func processEnvironment(lookup func(string) (string, bool)) environment {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	var names []string
	for _, kv := range os.Environ() {
		if name, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, "LBD_") {
			names = append(names, name)
		}
	}
	return environment{names: names, lookup: lookup}
}

// listEnvironment serves variables from a list of "NAME=value" strings, the
// form of os.Environ().
func listEnvironment(list []string) environment {
	values := map[string]string{}
	var names []string
	for _, kv := range list {
		name, value, _ := strings.Cut(kv, "=")
		values[name] = value
		names = append(names, name)
	}
	return environment{names: names, lookup: func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	}}
}

// loadEnv applies the LBD_* variables of env.
func (l *loader) loadEnv(env environment) {
	for _, s := range settings {
		raw, ok := env.lookup(s.envName())
		if ok && raw != "" {
			l.setFromText(s, raw, envOrigin(s.envName()))
		}
	}

	known := knownEnvNames()
	names := slices.Compact(slices.Sorted(slices.Values(env.names)))
	for _, name := range names {
		if _, set := env.lookup(name); !set || !strings.HasPrefix(name, "LBD_") || slices.Contains(known, name) {
			continue
		}
		switch {
		case strings.HasPrefix(name, envHandlerPrefix):
			l.handlerFromEnv(name, env)
		default:
			l.cfg.Warnings = append(l.cfg.Warnings,
				fmt.Sprintf("ignored variable %s: no lbd setting has this name%s", name, didYouMean(name, known)))
		}
	}
}

func knownEnvNames() []string {
	names := []string{envConfig, envAPIToken}
	for _, s := range settings {
		names = append(names, s.envName())
	}
	return names
}

// handlerFromEnv applies LBD_HANDLER_<NAME>='["prog", "arg"]', which sets
// the command of handler <name>. A handler from the file keeps its other
// fields.
func (l *loader) handlerFromEnv(name string, env environment) {
	raw, ok := env.lookup(name)
	if !ok || raw == "" {
		return
	}
	o := envOrigin(name)

	part := strings.TrimPrefix(name, envHandlerPrefix)
	if part == "" || strings.Trim(part, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		l.add(o.problem(fmt.Sprintf("invalid variable name %s: the part after %s must be upper-case letters, digits and '_'; "+
			"LBD_HANDLER_SHA256SUM declares handler \"sha256sum\"", name, envHandlerPrefix), nil))
		return
	}
	handler := strings.ToLower(part)
	if !l.checkHandlerName(handler, o) {
		return
	}

	var command []string
	if err := json.Unmarshal([]byte(raw), &command); err != nil || command == nil {
		if err == nil {
			err = fmt.Errorf("got null")
		}
		l.add(o.problem(fmt.Sprintf(`invalid %s %q: must be a JSON array of strings such as ["prog", "arg"]: %v`, name, raw, err), err))
		return
	}
	if err := checkCommand(command); err != nil {
		l.add(o.problem(fmt.Sprintf("invalid %s %q: command %v", name, raw, err), err))
		return
	}

	h := l.cfg.Worker.Handlers[handler]
	h.Command = command
	l.cfg.Worker.Handlers[handler] = h
	key := quoteName(blockHandler, handler)
	if !l.explicit(key) {
		l.origins[key] = o
	}
}
