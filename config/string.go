package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// String writes the effective configuration in the syntax of the config
// file, for logs and `lbd validate`. Values of handler env variables are
// replaced by "(redacted)" because they often carry credentials. Command
// arguments are written as they are.
func (c *Config) String() string {
	var b strings.Builder
	for _, s := range settings {
		if s.block == "" {
			fmt.Fprintf(&b, "%s = %s\n", s.key, settingText(s, c))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.TaskTypes)) {
		t := c.TaskTypes[name]
		fmt.Fprintf(&b, "task_type %q {\n  timeout = %q\n  max_attempts = %d\n}\n",
			name, formatDuration(t.Timeout), t.MaxAttempts)
	}
	writeQueues(&b, c.Queues, slices.Sorted(maps.Keys(c.Queues)))

	b.WriteString("worker {\n")
	for _, s := range settings {
		if s.block == blockWorker {
			fmt.Fprintf(&b, "  %s = %s\n", s.key, hclValue(s.ptr(c)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Worker.Handlers)) {
		writeHandler(&b, name, c.Worker.Handlers[name])
	}
	b.WriteString("}\n")
	return b.String()
}

func writeHandler(b *strings.Builder, name string, h Handler) {
	fmt.Fprintf(b, "  handler %s {\n", hclQuote(name))
	if h.URL != "" {
		fmt.Fprintf(b, "    url = %s\n", hclQuote(h.URL))
	} else {
		fmt.Fprintf(b, "    command = %s\n", hclList(h.Command))
	}
	if h.Dir != "" {
		fmt.Fprintf(b, "    dir = %s\n", hclQuote(h.Dir))
	}
	if len(h.Env) > 0 {
		b.WriteString("    env = {")
		for _, k := range slices.Sorted(maps.Keys(h.Env)) {
			fmt.Fprintf(b, " %s = \"(redacted)\"", hclQuote(k))
		}
		b.WriteString(" }\n")
	}
	if h.Timeout != 0 {
		fmt.Fprintf(b, "    timeout = %q\n", formatDuration(h.Timeout))
	}
	b.WriteString("  }\n")
}

// settingText writes the value of s in c as an HCL literal, with a secret
// that is set replaced by "(redacted)".
func settingText(s *setting, c *Config) string {
	if p, ok := s.ptr(c).(*string); ok && s.secret && *p != "" {
		return hclQuote(redacted)
	}
	return hclValue(s.ptr(c))
}

// hclValue writes the value behind a setting pointer as an HCL literal.
func hclValue(p any) string {
	switch v := p.(type) {
	case *string:
		return hclQuote(*v)
	case *[]string:
		return hclList(*v)
	case *bool, *int:
		return formatValue(p)
	}
	return hclQuote(formatValue(p))
}

// hclQuote quotes s as an HCL string literal, escaping the template
// sequences "${" and "%{".
func hclQuote(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	s = strings.ReplaceAll(s, "%{", "%%{")
	return strconv.Quote(s)
}

func hclList(items []string) string {
	quoted := make([]string, len(items))
	for i, item := range items {
		quoted[i] = hclQuote(item)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
