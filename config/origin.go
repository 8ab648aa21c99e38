package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// source is the layer a value comes from, weakest first. Problems sort in
// this order too, with srcNone last.
type source int

const (
	srcDefault source = iota
	srcFile
	srcEnv
	srcFlag
	srcNone // a problem that no single source caused
)

// origin records where a value was set.
type origin struct {
	src  source
	pos  string // "lbd.hcl:3:1", "LBD_POPULATION" or "flag -population"
	name string // the setting's name in that source: population, LBD_POPULATION, -population
	file string
	line int
	col  int
}

func fileOrigin(name string, r hcl.Range) origin {
	return origin{
		src:  srcFile,
		pos:  fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column),
		name: name,
		file: r.Filename,
		line: r.Start.Line,
		col:  r.Start.Column,
	}
}

func envOrigin(name string) origin {
	return origin{src: srcEnv, pos: name, name: name}
}

func flagOrigin(name string) origin {
	return origin{src: srcFlag, pos: "flag -" + name, name: "-" + name}
}

// problem returns a Problem at o. cause may be nil.
func (o origin) problem(msg string, cause error) Problem {
	src := o.src
	if src == srcDefault {
		src = srcNone
	}
	return Problem{
		Pos:   o.pos,
		Msg:   msg,
		src:   src,
		file:  o.file,
		line:  o.line,
		col:   o.col,
		cause: cause,
	}
}
