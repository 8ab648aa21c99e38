package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Load builds the configuration of a node from args, the environment and the
// file named by -config or LBD_CONFIG. args are the daemon's flags, such as
// os.Args[1:] without a subcommand. lookup reads a variable (os.LookupEnv in
// production; nil means none is set). An empty variable counts as unset.
//
// Load finds LBD_HANDLER_* and unknown LBD_* variables by listing
// os.Environ() and reads their values through lookup. So a lookup that
// serves variables absent from the process environment supplies only the
// settings with fixed names.
//
// Load returns *Error listing every problem found, and no Config, when
// anything is wrong. For -h or -help it writes the usage to stderr and
// returns flag.ErrHelp.
func Load(args []string, lookup func(string) (string, bool), stderr io.Writer) (*Config, error) {
	return load(args, processEnvironment(lookup), stderr)
}

func load(args []string, env environment, stderr io.Writer) (*Config, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	flags, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stderr)
		return nil, flag.ErrHelp
	}

	l := newLoader()
	l.problems = append(l.problems, flags.problems...)
	if path, namedBy := configPath(flags, env); path != "" {
		l.loadFile(path, namedBy)
	}
	l.loadEnv(env)
	l.applyFlags(flags.records)
	l.finish(true)
	return l.result()
}

// configPath returns the file that -config or else LBD_CONFIG names, and
// the variable name when the path comes from LBD_CONFIG.
func configPath(flags *parsedFlags, env environment) (path, namedBy string) {
	if flags.configSet {
		return flags.config, ""
	}
	path, _ = env.lookup(envConfig)
	return path, envConfig
}

// loader carries one load: the config being built, where each value came
// from, and the problems found so far.
type loader struct {
	cfg      *Config
	hostErr  error
	origins  map[string]origin // by setting key, `handler "NAME"`, `task_type "NAME"` or "worker"
	problems []Problem
	src      []byte // the config file, to quote values in messages
}

func newLoader() *loader {
	cfg := Defaults()
	_, hostErr := os.Hostname()
	return &loader{cfg: cfg, hostErr: hostErr, origins: map[string]origin{}}
}

func (l *loader) add(p Problem) {
	l.problems = append(l.problems, p)
}

// explicit reports whether a file, variable or flag set key.
func (l *loader) explicit(key string) bool {
	return l.origins[key].src != srcDefault
}

// strongest returns the origin of the strongest explicit source among keys,
// the later key on a tie, or an origin without position when all keep
// their defaults.
func (l *loader) strongest(keys ...string) origin {
	best := origin{src: srcNone}
	for _, k := range keys {
		o := l.origins[k]
		if o.src != srcDefault && (best.src == srcNone || o.src >= best.src) {
			best = o
		}
	}
	return best
}

// result returns the config, or *Error when any problem was found.
func (l *loader) result() (*Config, error) {
	if len(l.problems) > 0 {
		sortProblems(l.problems)
		return nil, &Error{Problems: l.problems}
	}
	return l.cfg, nil
}

// setFromText sets s from the text of a flag or variable.
func (l *loader) setFromText(s *setting, raw string, o origin) {
	v, err := parseText(s.kind, raw)
	if err == nil && s.check != nil {
		v, err = s.check(v)
	}
	if err != nil {
		text := strconv.Quote(raw)
		if s.secret {
			text = redacted
		}
		l.add(o.problem(fmt.Sprintf("invalid %s %s: %v", o.name, text, err), err))
		return
	}

	// Repeated list flags add up: -join a -join b joins both.
	appendList := s.kind == kindList && o.src == srcFlag && l.origins[s.key].src == srcFlag
	s.assign(l.cfg, v, appendList)
	l.origins[s.key] = o
}
