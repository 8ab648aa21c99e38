package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// maxFileBytes bounds the config file. A real one is a few kilobytes.
const maxFileBytes = 1 << 20

// LoadFile reads and validates a file on top of the built-in defaults, for
// `lbd validate -config FILE`. It does not require role, because -role or
// LBD_ROLE can supply it at start-up, but it checks the role-specific rules
// when the file sets role. It returns *Error listing every problem found.
func LoadFile(path string) (*Config, error) {
	l := newLoader()
	l.loadFile(path, "")
	l.finish(false)
	return l.result()
}

// loadFile decodes the file at path, in HCL native syntax, into l.cfg.
// namedBy is the variable that named the file, for read errors, or "".
func (l *loader) loadFile(path, namedBy string) {
	o := origin{src: srcFile, pos: path, file: path}
	src, err := readFile(path)
	if err != nil {
		msg := err.Error()
		if namedBy != "" {
			msg += " (the path comes from " + namedBy + ")"
		}
		l.add(o.problem(msg, err))
		return
	}

	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	l.addDiags(diags)
	if diags.HasErrors() {
		return
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		l.add(o.problem(fmt.Sprintf("config file has an unexpected body type %T", f.Body), nil))
		return
	}
	l.src = src
	l.cfg.File = path
	l.decodeTop(body)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config file not found: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open config file: %w", err)
	}
	defer f.Close()

	src, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read config file: %w", err)
	}
	if len(src) > maxFileBytes {
		return nil, fmt.Errorf("config file is larger than %s, while an lbd config file is a few kilobytes: check that -config or LBD_CONFIG names the right file", formatSize(maxFileBytes))
	}
	return src, nil
}

func (l *loader) decodeTop(body *hclsyntax.Body) {
	attrs, blocks := l.items(body, topSchema)
	for _, a := range attrs {
		l.setFromFile(settingByKey("", a.Name), a)
	}
	for _, b := range blocks {
		switch b.Type {
		case blockWorker:
			l.decodeWorker(b)
		case blockTaskType:
			l.decodeTaskType(b)
		case blockQueue:
			l.decodeQueue(b)
		}
	}
}

// setFromFile sets s from attribute a.
func (l *loader) setFromFile(s *setting, a *hclsyntax.Attribute) {
	o := fileOrigin(s.key, a.NameRange)
	v, ok := l.fileValue(s.kind, a, o)
	if !ok || v == nil {
		return
	}
	if s.check != nil {
		var err error
		if v, err = s.check(v); err != nil {
			text := l.exprText(a.Expr)
			if s.secret {
				text = redacted
			}
			l.invalid(o, text, err)
			return
		}
	}
	s.assign(l.cfg, v, false)
	l.origins[s.key] = o
}

func (l *loader) decodeWorker(b *hclsyntax.Block) {
	o := fileOrigin(blockWorker, b.TypeRange)
	if prev, ok := l.origins[blockWorker]; ok {
		l.add(o.problem(fmt.Sprintf("duplicate worker block: the first is at %s; merge the two", prev.pos), nil))
		return
	}
	l.origins[blockWorker] = o

	attrs, blocks := l.items(b.Body, workerSchema)
	for _, a := range attrs {
		if a.Name == "queues" {
			l.decodeQueuesAttr(settingByKey(blockWorker, a.Name), a)
			continue
		}
		l.setFromFile(settingByKey(blockWorker, a.Name), a)
	}
	for _, hb := range blocks {
		l.decodeHandler(hb)
	}
}

func (l *loader) decodeHandler(b *hclsyntax.Block) {
	name := b.Labels[0]
	key := quoteName(blockHandler, name)
	o := fileOrigin(key, b.TypeRange)
	valid := l.checkHandlerName(name, fileOrigin(blockHandler, b.LabelRanges[0]))
	if prev, ok := l.origins[key]; ok {
		l.add(o.problem(fmt.Sprintf("duplicate %s: the first is at %s", key, prev.pos), nil))
		valid = false
	} else {
		l.origins[key] = o
	}

	var h Handler
	before := len(l.problems)
	attrs, _ := l.items(b.Body, handlerSchema)
	valid = valid && len(l.problems) == before
	for _, a := range attrs {
		ao := fileOrigin(key+" "+a.Name, a.NameRange)
		switch a.Name {
		case "command":
			valid = l.fileCommand(a, ao, &h) && valid
		case "url":
			valid = l.fileField(a, ao, kindString, handlerURL, func(v any) { h.URL = v.(string) }) && valid
		case "dir":
			valid = l.fileField(a, ao, kindString, absPath, func(v any) { h.Dir = v.(string) }) && valid
		case "env":
			valid = l.fileEnv(a, ao, &h) && valid
		case "timeout":
			valid = l.fileField(a, ao, kindDuration, optionalDuration, func(v any) { h.Timeout = v.(time.Duration) }) && valid
		}
	}
	if valid {
		l.cfg.Worker.Handlers[name] = h
	}
}

// checkHandlerName checks a handler name from the file or a variable.
func (l *loader) checkHandlerName(name string, o origin) bool {
	if err := checkName(name); err != nil {
		l.add(o.problem(fmt.Sprintf("invalid handler name %q: %v", name, err), err))
		return false
	}
	if slices.Contains(builtinNames, name) {
		l.add(o.problem(fmt.Sprintf("invalid handler name %q: it is the name of a built-in handler; "+
			"enable the built-in with builtins = [%q] or give the handler another name", name, name), nil))
		return false
	}
	return true
}

// fileField decodes a of kind k, checks it with check and passes it to set.
// It returns false when the value is invalid.
func (l *loader) fileField(a *hclsyntax.Attribute, o origin, k kind, check func(any) (any, error), set func(any)) bool {
	v, ok := l.fileValue(k, a, o)
	if !ok || v == nil {
		return ok
	}
	v, err := check(v)
	if err != nil {
		l.invalid(o, l.exprText(a.Expr), err)
		return false
	}
	set(v)
	return true
}

func (l *loader) fileCommand(a *hclsyntax.Attribute, o origin, h *Handler) bool {
	return l.fileField(a, o, kindList, func(v any) (any, error) {
		return v, checkCommand(v.([]string))
	}, func(v any) { h.Command = v.([]string) })
}

func (l *loader) fileEnv(a *hclsyntax.Attribute, o origin, h *Handler) bool {
	return l.fileField(a, o, kindMap, func(v any) (any, error) {
		for name, value := range v.(map[string]string) {
			if err := checkEnvName(name); err != nil {
				return nil, err
			}
			if strings.ContainsRune(value, 0) {
				return nil, fmt.Errorf("value of %s must not contain a NUL byte", name)
			}
		}
		return v, nil
	}, func(v any) { h.Env = v.(map[string]string) })
}

// namedBlock checks the name label of a block of kind blockType and that
// no earlier block has it, and records the block's origin. It returns the
// block's key for messages, such as task_type "resize", and false when a
// check failed.
func (l *loader) namedBlock(b *hclsyntax.Block, blockType string) (string, bool) {
	name := b.Labels[0]
	key := quoteName(blockType, name)
	o := fileOrigin(key, b.TypeRange)
	valid := true
	if err := checkName(name); err != nil {
		l.add(fileOrigin(blockType, b.LabelRanges[0]).problem(fmt.Sprintf("invalid %s name %q: %v", blockType, name, err), err))
		valid = false
	}
	if prev, ok := l.origins[key]; ok {
		l.add(o.problem(fmt.Sprintf("duplicate %s: the first is at %s", key, prev.pos), nil))
		valid = false
	} else {
		l.origins[key] = o
	}
	return key, valid
}

func (l *loader) decodeTaskType(b *hclsyntax.Block) {
	name := b.Labels[0]
	key, valid := l.namedBlock(b, blockTaskType)

	var t TaskType
	attrs, _ := l.items(b.Body, taskTypeSchema)
	for _, a := range attrs {
		ao := fileOrigin(key+" "+a.Name, a.NameRange)
		switch a.Name {
		case "timeout":
			valid = l.fileField(a, ao, kindDuration, optionalDuration, func(v any) { t.Timeout = v.(time.Duration) }) && valid
		case "max_attempts":
			valid = l.fileField(a, ao, kindInt, optionalAttempts, func(v any) { t.MaxAttempts = v.(int) }) && valid
		}
	}
	if valid {
		l.cfg.TaskTypes[name] = t
	}
}
