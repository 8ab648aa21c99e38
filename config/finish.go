package config

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// finish fills the defaults that depend on other settings and checks the
// rules that span settings. requireRole is false for LoadFile.
func (l *loader) finish(requireRole bool) {
	l.checkNode()
	if l.cfg.Dev {
		l.applyDevDefaults()
	}
	l.checkRole(requireRole)
	l.finishWorkerHTTP()
	l.finishAdvertise()
	l.checkTimings()
	l.checkSizes()
	l.checkWorker()
	l.finishKeyring()
	l.finishAPIToken()
	l.finishTLS()
	l.finishAPITLS()
	if l.cfg.Dev {
		l.checkLoopback()
	}
}

func (l *loader) checkNode() {
	if l.explicit("node") {
		return
	}
	if l.cfg.Node == "" {
		l.add(origin{src: srcNone}.problem(fmt.Sprintf(
			"missing node name: the host name is unavailable (%v); set node, -node or LBD_NODE", l.hostErr), l.hostErr))
		return
	}
	if _, err := checkNodeName(l.cfg.Node); err != nil {
		l.add(origin{src: srcNone}.problem(fmt.Sprintf(
			"invalid node name %q taken from the host name: %v; set node, -node or LBD_NODE", l.cfg.Node, err), err))
	}
}

// applyDevDefaults sets the dev-mode defaults of the settings that no
// source set.
func (l *loader) applyDevDefaults() {
	c := l.cfg
	if !l.explicit("bind") {
		c.Bind = "127.0.0.1:7946"
	}
	if !l.explicit("task_addr") {
		c.TaskAddr = "127.0.0.1:7947"
	}
	if !l.explicit("durability") {
		c.Durability = DurabilityNone
	}
	if !l.explicit("builtins") {
		c.Worker.Builtins = slices.Clone(builtinNames)
	}
	if !l.explicit("data_dir") {
		c.DataDir = filepath.Join(os.TempDir(), "lbd-dev-"+pathSafe(c.Node))
	}
}

// pathSafe replaces every byte of name outside A-Z, a-z, 0-9, '_', '.' and
// '-' with '_', so that a node name is one safe path element.
func pathSafe(name string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, name)
	if strings.Trim(safe, ".") == "" {
		return "node"
	}
	return safe
}

func (l *loader) checkRole(requireRole bool) {
	c := l.cfg
	switch {
	case c.Dev && c.Role != "":
		o := l.strongest("role")
		l.add(o.problem(fmt.Sprintf("invalid role %q in dev mode: dev mode runs a master and a worker in one process; drop role or dev", c.Role), nil))
	case !c.Dev && c.Role == "" && requireRole:
		l.add(origin{src: srcNone}.problem("missing role: set -role master or -role worker "+
			"(or LBD_ROLE, or role in the config file), or use -dev to run a master and a worker in one process", nil))
	}
}

// finishAdvertise adds the bind port to an advertise address given as a
// host alone.
func (l *loader) finishAdvertise() {
	c := l.cfg
	if c.Advertise == "" {
		return
	}
	if _, _, err := net.SplitHostPort(c.Advertise); err == nil {
		return
	}
	host, _ := hostAlone(c.Advertise)
	_, bindPort, err := net.SplitHostPort(c.Bind)
	if host == "" || err != nil {
		return // the per-value checks already reported it
	}
	if bindPort == "0" {
		l.add(l.strongest("advertise").problem(fmt.Sprintf(
			"invalid advertise %q: it has no port and bind uses port 0, a port chosen at start-up; give advertise a port", c.Advertise), nil))
		return
	}
	c.Advertise = net.JoinHostPort(host, bindPort)
}

func (l *loader) checkTimings() {
	c := l.cfg
	if c.HeartbeatInterval > c.HeartbeatTimeout/2 {
		l.add(l.strongest("heartbeat_interval", "heartbeat_timeout").problem(fmt.Sprintf(
			"heartbeat_timeout %s must be at least twice heartbeat_interval %s: raise heartbeat_timeout or lower heartbeat_interval",
			formatDuration(c.HeartbeatTimeout), formatDuration(c.HeartbeatInterval)), nil))
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		l.add(l.strongest("retry_backoff", "retry_backoff_max").problem(fmt.Sprintf(
			"retry_backoff_max %s must be at least retry_backoff %s",
			formatDuration(c.RetryBackoffMax), formatDuration(c.RetryBackoff)), nil))
	}
}

func (l *loader) checkSizes() {
	c := l.cfg
	for _, limit := range []struct {
		key   string
		value int64
	}{{"max_payload_bytes", c.MaxPayloadBytes}, {"max_output_bytes", c.MaxOutputBytes}} {
		if c.MaxFrameBytes-limit.value >= frameOverhead {
			continue
		}
		fix := fmt.Sprintf("raise max_frame_bytes to %s or lower %s", formatSize(limit.value+frameOverhead), limit.key)
		if limit.value > maxFrameLimit-frameOverhead {
			fix = fmt.Sprintf("lower %s to at most %s", limit.key, formatSize(maxFrameLimit-frameOverhead))
		}
		l.add(l.strongest(limit.key, "max_frame_bytes").problem(fmt.Sprintf(
			"max_frame_bytes %s must exceed %s %s by at least %s, the room a frame needs beside the data: %s",
			formatSize(c.MaxFrameBytes), limit.key, formatSize(limit.value), formatSize(frameOverhead), fix), nil))
	}
	if c.MaxQueuedBytes < c.MaxPayloadBytes {
		l.add(l.strongest("max_payload_bytes", "max_queued_bytes").problem(fmt.Sprintf(
			"max_queued_bytes %s must be at least max_payload_bytes %s, or a task of the largest size never fits in the queue",
			formatSize(c.MaxQueuedBytes), formatSize(c.MaxPayloadBytes)), nil))
	}
}

func (l *loader) checkWorker() {
	c := l.cfg
	if _, err := builtinList(c.Worker.Builtins); err != nil {
		l.add(l.strongest("builtins").problem(fmt.Sprintf("invalid builtins: %v", err), err))
	}

	for _, name := range slices.Sorted(maps.Keys(c.Worker.Handlers)) {
		h := c.Worker.Handlers[name]
		key := quoteName(blockHandler, name)
		switch {
		case len(h.Command) == 0 && h.URL == "":
			l.add(l.strongest(key).problem(fmt.Sprintf(
				`%s has no command: add command = ["prog", "arg"] to its block, or url = "http://127.0.0.1:8080/path" to post tasks to a URL`, key), nil))
		case len(h.Command) > 0 && h.URL != "":
			l.add(l.strongest(key).problem(fmt.Sprintf(
				`%s has both command and url: keep one, a handler either runs a program or posts to a URL`, key), nil))
		case h.URL != "" && (h.Dir != "" || len(h.Env) > 0):
			l.add(l.strongest(key).problem(fmt.Sprintf(
				`%s sets dir or env, which apply to command only: remove them from a url handler`, key), nil))
		}
	}

	runsWorker := c.Dev || c.Role == RoleWorker
	if runsWorker && len(c.Worker.Handlers) == 0 && len(c.Worker.Builtins) == 0 {
		l.add(l.strongest(blockWorker).problem("worker has no handlers, so it can run no task: "+
			`add a handler block to the worker block (worker { handler "NAME" { command = ["prog", "arg"] } }), `+
			`set LBD_HANDLER_NAME='["prog", "arg"]', or enable built-ins with -builtins echo,sleep`, nil))
	}
}

// checkLoopback keeps dev mode on loopback addresses.
func (l *loader) checkLoopback() {
	c := l.cfg
	for _, a := range []struct{ key, addr string }{
		{"bind", c.Bind}, {"task_addr", c.TaskAddr}, {"http_addr", c.HTTPAddr}, {"advertise", c.Advertise},
	} {
		if a.addr == "" || isLoopbackHost(addrHost(a.addr)) {
			continue
		}
		l.add(l.strongest(a.key).problem(fmt.Sprintf(
			"invalid %s %q in dev mode: dev mode uses loopback addresses only; use 127.0.0.1 or drop dev", a.key, a.addr), nil))
	}
	for _, seed := range c.Join {
		if !isLoopbackHost(addrHost(seed)) {
			l.add(l.strongest("join").problem(fmt.Sprintf(
				"invalid join seed %q in dev mode: dev mode uses loopback addresses only; use 127.0.0.1 or drop dev", seed), nil))
		}
	}
}
