package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Bounds of a worker's queue list.
const (
	maxQueueWeight = 1000
	maxWorkerQueue = 1000
	blockQueue     = "queue"
)

// QueueWeight is one queue that a worker serves and its weight.
type QueueWeight struct {
	Name   string
	Weight int
}

// QueueLimits caps the waiting tasks of one queue on the master, from a
// queue "NAME" { } block. A zero field leaves only the global limit.
type QueueLimits struct {
	MaxQueuedTasks int
	MaxQueuedBytes int64
}

var queueSchema = &bodySchema{
	where:    "in a queue block",
	keys:     []string{"max_queued_tasks", "max_queued_bytes"},
	listKeys: true,
}

// ParseQueues parses a worker's queue list, "critical=6,default=3,low=1",
// in the order written. A name without "=WEIGHT" has weight 1.
func ParseQueues(text string) ([]QueueWeight, error) {
	var out []QueueWeight
	seen := map[string]bool{}
	for item := range strings.SplitSeq(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, weightText, hasWeight := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("invalid queue name %q: %w", name, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("queue %q is listed twice", name)
		}
		seen[name] = true
		weight := 1
		if hasWeight {
			w, err := strconv.Atoi(strings.TrimSpace(weightText))
			if err != nil || w < 1 || w > maxQueueWeight {
				return nil, fmt.Errorf("invalid weight %q of queue %q: must be an integer from 1 to %d",
					weightText, name, maxQueueWeight)
			}
			weight = w
		}
		out = append(out, QueueWeight{Name: name, Weight: weight})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no queue given: list queues as NAME=WEIGHT, such as default=1")
	}
	if len(out) > maxWorkerQueue {
		return nil, fmt.Errorf("%d queues listed: a worker serves at most %d", len(out), maxWorkerQueue)
	}
	return out, nil
}

// FormatQueues writes a queue list in the form that ParseQueues reads.
func FormatQueues(qs []QueueWeight) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = fmt.Sprintf("%s=%d", q.Name, q.Weight)
	}
	return strings.Join(parts, ",")
}

// checkQueues validates a queue list and returns it normalized.
func checkQueues(v any) (any, error) {
	qs, err := ParseQueues(v.(string))
	if err != nil {
		return nil, err
	}
	return FormatQueues(qs), nil
}

// queuesObjectText turns the file form `queues = { critical = 6, low = 1 }`
// into the text form, keeping the order in which the file lists the queues.
// It returns false for any other expression, which the caller decodes as a
// string.
func (l *loader) queuesObjectText(a *hclsyntax.Attribute, o origin) (string, bool) {
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return "", false
	}
	parts := make([]string, 0, len(obj.Items))
	for _, item := range obj.Items {
		key, diags := item.KeyExpr.Value(nil)
		l.addDiags(diags)
		val, vdiags := item.ValueExpr.Value(nil)
		l.addDiags(vdiags)
		if diags.HasErrors() || vdiags.HasErrors() {
			return "", true
		}
		name, err := parseCty(kindString, key)
		if err != nil {
			l.invalid(o, l.exprText(a.Expr), fmt.Errorf("queue name: %w", err))
			return "", true
		}
		weight, err := parseCty(kindInt, val)
		if err != nil {
			l.invalid(o, l.exprText(a.Expr), fmt.Errorf("weight of queue %q: %w", name, err))
			return "", true
		}
		parts = append(parts, fmt.Sprintf("%s=%d", name, weight))
	}
	return strings.Join(parts, ","), true
}

// decodeQueuesAttr sets the worker's queues from the file, in either form.
func (l *loader) decodeQueuesAttr(s *setting, a *hclsyntax.Attribute) {
	o := fileOrigin(s.key, a.NameRange)
	text, isObject := l.queuesObjectText(a, o)
	if !isObject {
		l.setFromFile(s, a)
		return
	}
	if text == "" && len(l.problems) > 0 {
		return
	}
	v, err := checkQueues(text)
	if err != nil {
		l.invalid(o, l.exprText(a.Expr), err)
		return
	}
	s.assign(l.cfg, v, false)
	l.origins[s.key] = o
}

// decodeQueue decodes a master's queue "NAME" { } block of limits.
func (l *loader) decodeQueue(b *hclsyntax.Block) {
	name := b.Labels[0]
	key, valid := l.namedBlock(b, blockQueue)

	var q QueueLimits
	attrs, _ := l.items(b.Body, queueSchema)
	for _, a := range attrs {
		ao := fileOrigin(key+" "+a.Name, a.NameRange)
		switch a.Name {
		case "max_queued_tasks":
			valid = l.fileField(a, ao, kindInt, intRange(1, 0), func(v any) { q.MaxQueuedTasks = v.(int) }) && valid
		case "max_queued_bytes":
			valid = l.fileField(a, ao, kindSize, sizeRange(1, 0), func(v any) { q.MaxQueuedBytes = v.(int64) }) && valid
		}
	}
	if valid {
		l.cfg.Queues[name] = q
	}
}

// writeQueues writes the queue blocks for String.
func writeQueues(b *strings.Builder, qs map[string]QueueLimits, names []string) {
	for _, name := range names {
		q := qs[name]
		fmt.Fprintf(b, "queue %q {\n  max_queued_tasks = %d\n  max_queued_bytes = %d\n}\n",
			name, q.MaxQueuedTasks, q.MaxQueuedBytes)
	}
}
