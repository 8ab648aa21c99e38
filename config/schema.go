package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// bodySchema lists what one body of the file may contain.
type bodySchema struct {
	where     string            // "at the top level", "in the worker block"
	keys      []string          // attribute names
	blocks    map[string]int    // block type to its number of labels
	elsewhere map[string]string // names that belong in another body, with the hint to give
	listKeys  bool              // list the valid keys in an unknown-key message
}

var topSchema = &bodySchema{
	where:  "at the top level",
	keys:   keysIn(""),
	blocks: map[string]int{blockWorker: 0, blockTaskType: 1, blockQueue: 1},
	elsewhere: withHints(keysIn(blockWorker), "it belongs in the worker block: worker { %s = ... }",
		map[string]string{blockHandler: `handler blocks belong in the worker block: worker { handler "NAME" { command = ["prog"] } }`}),
}

var workerSchema = &bodySchema{
	where:  "in the worker block",
	keys:   keysIn(blockWorker),
	blocks: map[string]int{blockHandler: 1},
	elsewhere: withHints(keysIn(""), "%s is a top-level key: move it out of the worker block",
		map[string]string{blockTaskType: "task_type blocks belong at the top level, outside the worker block",
			blockQueue: "queue blocks belong at the top level, outside the worker block"}),
	listKeys: true,
}

var handlerSchema = &bodySchema{
	where:    "in a handler block",
	keys:     []string{"command", "url", "dir", "env", "timeout"},
	listKeys: true,
}

var taskTypeSchema = &bodySchema{
	where:    "in a task_type block",
	keys:     []string{"timeout", "max_attempts"},
	listKeys: true,
}

// withHints maps each key to hint, formatted with the key, and adds extra.
func withHints(keys []string, hint string, extra map[string]string) map[string]string {
	m := maps.Clone(extra)
	for _, k := range keys {
		m[k] = fmt.Sprintf(hint, k)
	}
	return m
}

// items returns the attributes of body that s allows, sorted by position,
// and its blocks that s allows with the right number of labels. It records
// a problem for everything else.
func (l *loader) items(body *hclsyntax.Body, s *bodySchema) ([]*hclsyntax.Attribute, []*hclsyntax.Block) {
	attrs := slices.SortedFunc(maps.Values(body.Attributes), func(a, b *hclsyntax.Attribute) int {
		return a.SrcRange.Start.Byte - b.SrcRange.Start.Byte
	})
	var known []*hclsyntax.Attribute
	for _, a := range attrs {
		if slices.Contains(s.keys, a.Name) {
			known = append(known, a)
			continue
		}
		l.unknownName(a.Name, a.NameRange, s, false)
	}

	var blocks []*hclsyntax.Block
	for _, b := range body.Blocks {
		labels, ok := s.blocks[b.Type]
		if !ok {
			l.unknownName(b.Type, b.TypeRange, s, true)
			continue
		}
		if len(b.Labels) != labels {
			l.add(fileOrigin(b.Type, b.TypeRange).problem(labelMessage(b.Type, labels, len(b.Labels)), nil))
			continue
		}
		blocks = append(blocks, b)
	}
	return known, blocks
}

func labelMessage(blockType string, want, got int) string {
	if want == 0 {
		return fmt.Sprintf("%s block takes no label: write %s { ... }", blockType, blockType)
	}
	return fmt.Sprintf("%s block takes exactly one label, the name, not %d: write %s \"NAME\" { ... }", blockType, got, blockType)
}

// unknownName records a problem for a key or block that s does not allow,
// with the nearest valid name or a hint where it belongs.
func (l *loader) unknownName(name string, r hcl.Range, s *bodySchema, isBlock bool) {
	o := fileOrigin(name, r)
	_, blockName := s.blocks[name]
	switch {
	case isBlock && slices.Contains(s.keys, name):
		l.add(o.problem(fmt.Sprintf("%s is a key, not a block: write %s = VALUE", name, name), nil))
		return
	case !isBlock && blockName:
		l.add(o.problem(fmt.Sprintf("%s is a block, not a key: write %s without \"=\"", name, blockExample(name)), nil))
		return
	}

	itemKind := "key"
	if isBlock {
		itemKind = "block"
	}
	if hint, ok := s.elsewhere[name]; ok {
		l.add(o.problem(fmt.Sprintf("%s %q is not valid %s: %s", itemKind, name, s.where, hint), nil))
		return
	}

	candidates := append(slices.Clone(s.keys), slices.Sorted(maps.Keys(s.blocks))...)
	msg := fmt.Sprintf("unknown %s %q %s", itemKind, name, s.where)
	if dym := didYouMean(name, candidates); dym != "" {
		msg += dym
	} else if s.listKeys {
		msg += "; valid names are " + strings.Join(candidates, ", ")
	} else {
		msg += "; lbd.hcl.example and lbd -h list every key"
	}
	l.add(o.problem(msg, nil))
}

func blockExample(name string) string {
	if name == blockWorker {
		return "worker { ... }"
	}
	return name + ` "NAME" { ... }`
}

// fileValue evaluates the value of a and converts it to kind k. It returns
// false, after recording a problem, when the value is invalid, and nil and
// true when the value is null, which leaves the setting unset.
func (l *loader) fileValue(k kind, a *hclsyntax.Attribute, o origin) (any, bool) {
	val, diags := a.Expr.Value(nil)
	l.addDiags(diags)
	if diags.HasErrors() {
		return nil, false
	}
	if val.IsNull() {
		return nil, true
	}
	v, err := parseCty(k, val)
	if err != nil {
		l.invalid(o, l.exprText(a.Expr), err)
		return nil, false
	}
	return v, true
}

// exprText returns the source text of e for a message, shortened to one
// line of at most 60 bytes.
func (l *loader) exprText(e hclsyntax.Expression) string {
	r := e.Range()
	if r.Start.Byte < 0 || r.End.Byte > len(l.src) || r.Start.Byte > r.End.Byte {
		return "value"
	}
	text := string(l.src[r.Start.Byte:r.End.Byte])
	line, _, multiline := strings.Cut(text, "\n")
	if multiline || len(line) > 60 {
		line = strings.ToValidUTF8(line[:min(len(line), 60)], "") + "..."
	}
	return line
}

// invalid records that a value, written as valueText, is not valid for the
// setting at o.
func (l *loader) invalid(o origin, valueText string, err error) {
	l.add(o.problem(fmt.Sprintf("invalid %s %s: %v", o.name, valueText, err), err))
}

// addDiags records HCL diagnostics of severity error with their positions.
func (l *loader) addDiags(diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := lowerFirst(d.Summary)
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		o := origin{src: srcFile, pos: "config file"}
		if d.Subject != nil {
			o = fileOrigin("", *d.Subject)
		}
		l.add(o.problem(msg, d))
	}
}

// lowerFirst lowers the first letter of an HCL summary, such as "Invalid
// expression", so that it reads like the other messages. An acronym such as
// "JSON" keeps its case.
func lowerFirst(s string) string {
	first, size := utf8.DecodeRuneInString(s)
	next, _ := utf8.DecodeRuneInString(s[size:])
	if !unicode.IsUpper(first) || unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(first)) + s[size:]
}

// quoteName returns `handler "resize"` for messages.
func quoteName(blockType, name string) string {
	return blockType + " " + strconv.Quote(name)
}
