package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagRecord is one flag as given. Flags are recorded first and applied
// after the file and the variables, because -config must be known before
// the file loads and flags are the strongest source.
type flagRecord struct {
	s   *setting
	raw string
}

type parsedFlags struct {
	records   []flagRecord
	config    string
	configSet bool
	problems  []Problem
}

// recorder is the flag.Value of one setting.
type recorder struct {
	s   *setting
	out *parsedFlags
}

func (r recorder) String() string { return "" }

func (r recorder) Set(raw string) error {
	r.out.records = append(r.out.records, flagRecord{s: r.s, raw: raw})
	return nil
}

// IsBoolFlag lets a bool setting be given as -dev without a value.
func (r recorder) IsBoolFlag() bool { return r.s != nil && r.s.kind == kindBool }

// configFlag is the flag.Value of -config.
type configFlag struct{ out *parsedFlags }

func (c configFlag) String() string { return "" }

func (c configFlag) Set(path string) error {
	c.out.config, c.out.configSet = path, true
	return nil
}

// parseFlags records the flags in args. It returns flag.ErrHelp for -h and
// -help; every other problem is in the result.
func parseFlags(args []string) (*parsedFlags, error) {
	out := &parsedFlags{}
	fs := newFlagSet(out)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		out.problems = append(out.problems, flagProblem(err))
	} else if fs.NArg() > 0 {
		o := origin{src: srcFlag, pos: "command line"}
		out.problems = append(out.problems, o.problem(
			fmt.Sprintf("unexpected argument %q: the daemon takes only flags (lbd -h lists them)", fs.Arg(0)), nil))
	}
	return out, nil
}

func newFlagSet(out *parsedFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("lbd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Var(configFlag{out: out}, "config", "")
	for _, s := range settings {
		fs.Var(recorder{s: s, out: out}, s.flagName(), "")
	}
	return fs
}

// flagProblem turns an error of flag.FlagSet.Parse into a Problem. Because
// the package reports errors only as text, it matches the texts that
// package flag has used since Go 1.0.
func flagProblem(err error) Problem {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return flagOrigin(name).problem(fmt.Sprintf("unknown flag -%s%s; lbd -h lists every flag",
			name, didYouMean(name, flagNames())), err)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return flagOrigin(name).problem(fmt.Sprintf("missing value for -%s: write -%s VALUE or -%s=VALUE", name, name, name), err)
	}
	o := origin{src: srcFlag, pos: "command line"}
	return o.problem(msg, err)
}

func flagNames() []string {
	names := []string{"config"}
	for _, s := range settings {
		names = append(names, s.flagName())
	}
	return names
}

// applyFlags applies the recorded flags in the order given.
func (l *loader) applyFlags(records []flagRecord) {
	for _, r := range records {
		l.setFromText(r.s, r.raw, flagOrigin(r.s.flagName()))
	}
}
