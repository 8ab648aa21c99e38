package config

import (
	"cmp"
	"slices"
	"strings"
)

// Error lists every problem that loading found, sorted by position: file
// positions first by line and column, then variables, then flags, then
// problems that no single source caused.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the underlying errors of the problems that have one, such
// as the fs.ErrNotExist of a missing file.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.cause != nil {
			errs = append(errs, p.cause)
		}
	}
	return errs
}

// Problem is one invalid or missing setting.
type Problem struct {
	// Pos is the source of the problem: "lbd.hcl:3:1" for the file,
	// "flag -population" for a flag, "LBD_POPULATION" for a variable, or ""
	// when no single source caused it (a missing role).
	Pos string

	// Msg describes the problem, with the bad value and the fix.
	Msg string

	src   source // which layer Pos is in; orders problems
	file  string
	line  int
	col   int
	cause error
}

// String returns "Pos: Msg", or Msg alone when Pos is empty.
func (p Problem) String() string {
	if p.Pos == "" {
		return p.Msg
	}
	return p.Pos + ": " + p.Msg
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.src, b.src),
			cmp.Compare(a.file, b.file),
			cmp.Compare(a.line, b.line),
			cmp.Compare(a.col, b.col),
			cmp.Compare(a.Pos, b.Pos),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}
