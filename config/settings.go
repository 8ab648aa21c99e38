package config

import (
	"strings"
	"time"
)

// setting describes one scalar or list setting: its key in the file, its
// flag and variable names follow from the key.
type setting struct {
	key    string // file key: data_dir
	block  string // "" for the top level, "worker" for the worker block
	kind   kind
	arg    string // value placeholder in -h: ADDR, DURATION, BYTES
	help   string // description for -h: what it sets, and its unit or range
	def    string // default for -h when the value in Defaults() would mislead
	dev    string // default in dev mode for -h, "" when dev mode keeps the default
	ptr    func(c *Config) any
	check  func(v any) (any, error) // validates one value and returns it normalized; may be nil
	secret bool                     // the value never appears in messages or String
}

// flagName returns the flag name without the dash: data-dir.
func (s *setting) flagName() string { return strings.ReplaceAll(s.key, "_", "-") }

// envName returns the variable name: LBD_DATA_DIR.
func (s *setting) envName() string { return "LBD_" + strings.ToUpper(s.key) }

// Upper bounds of settings whose range is not obvious.
const (
	maxPopulation  = 100_000
	maxAttemptsMax = 1000
	maxNodeName    = 128
	maxFrameLimit  = 1 << 30 // one frame is buffered whole in memory on each connection
	frameOverhead  = 64 << 10
)

// settings lists every scalar and list setting. Blocks (task_type, handler)
// are decoded separately. The order is the order of -h.
var settings = []*setting{
	{key: "role", kind: kindString, arg: "ROLE", help: "node role: master or worker; required unless -dev",
		def: "none", ptr: func(c *Config) any { return &c.Role }, check: oneOf(RoleMaster, RoleWorker)},
	{key: "dev", kind: kindBool, help: "dev mode: a master and a local worker in one process, on loopback addresses only",
		ptr: func(c *Config) any { return &c.Dev }},
	{key: "node", kind: kindString, arg: "NAME", help: "node name in the cluster, 1 to 128 characters without whitespace",
		def: "the host name", ptr: func(c *Config) any { return &c.Node }, check: checkNodeName},
	{key: "bind", kind: kindString, arg: "ADDR", help: "gossip listen address, host:port (TCP and UDP); an empty host means all interfaces",
		dev: "127.0.0.1:7946", ptr: func(c *Config) any { return &c.Bind }, check: listenAddr},
	{key: "advertise", kind: kindString, arg: "ADDR", help: "gossip address other nodes use to reach this one, host:port or a host alone to use the bind port",
		def: "picked by memberlist", ptr: func(c *Config) any { return &c.Advertise }, check: peerAddr},
	{key: "join", kind: kindList, arg: "LIST", help: "seed nodes to join, comma-separated host:port (port 7946 when omitted)",
		def: "none", ptr: func(c *Config) any { return &c.Join }, check: joinList},
	{key: "rejoin_interval", kind: kindDuration, arg: "DURATION", help: "how often to join seeds and known peers again after losing them",
		ptr: func(c *Config) any { return &c.RejoinInterval }, check: positiveDuration},
	{key: "data_dir", kind: kindString, arg: "PATH", help: "absolute path of the directory of the durable task store",
		dev: "lbd-dev-NODE under the temporary directory", ptr: func(c *Config) any { return &c.DataDir }, check: absPath},
	{key: "log_level", kind: kindString, arg: "LEVEL", help: "log level: debug, info, warn or error",
		ptr: func(c *Config) any { return &c.LogLevel }, check: oneOf("debug", "info", "warn", "error")},
	{key: "log_format", kind: kindString, arg: "FORMAT", help: "log format: text or json",
		ptr: func(c *Config) any { return &c.LogFormat }, check: oneOf("text", "json")},
	{key: "task_addr", kind: kindString, arg: "ADDR", help: "master: task listener that workers dial, host:port",
		dev: "127.0.0.1:7947", ptr: func(c *Config) any { return &c.TaskAddr }, check: listenAddr},
	{key: "http_addr", kind: kindString, arg: "ADDR", help: "master: HTTP API and status page listen address, host:port; the CLI reads LBD_HTTP_ADDR too; worker: /metrics and /healthz, unset by default",
		ptr: func(c *Config) any { return &c.HTTPAddr }, check: listenAddr},
	{key: "durability", kind: kindString, arg: "MODE", help: "master: fsync (an accepted task survives a crash) or none (faster, a crash can lose tasks)",
		dev: "none", ptr: func(c *Config) any { return &c.Durability }, check: oneOf(DurabilityFsync, DurabilityNone)},
	{key: "max_attempts", kind: kindInt, arg: "N", help: "master: attempts a task gets before it ends as failed, 1 to 1000",
		ptr: func(c *Config) any { return &c.MaxAttempts }, check: intRange(1, maxAttemptsMax)},
	{key: "task_timeout", kind: kindDuration, arg: "DURATION", help: "master: time one attempt may run when the task and its type set none",
		ptr: func(c *Config) any { return &c.TaskTimeout }, check: positiveDuration},
	{key: "retry_backoff", kind: kindDuration, arg: "DURATION", help: "master: delay before the first retry of a task",
		ptr: func(c *Config) any { return &c.RetryBackoff }, check: positiveDuration},
	{key: "retry_backoff_max", kind: kindDuration, arg: "DURATION", help: "master: maximum delay between retries, at least retry_backoff",
		ptr: func(c *Config) any { return &c.RetryBackoffMax }, check: positiveDuration},
	{key: "max_queued_tasks", kind: kindInt, arg: "N", help: "master: unfinished tasks kept before new ones are rejected",
		ptr: func(c *Config) any { return &c.MaxQueuedTasks }, check: intRange(1, 0)},
	{key: "max_queued_bytes", kind: kindSize, arg: "BYTES", help: "master: total payload of unfinished tasks kept before new ones are rejected",
		ptr: func(c *Config) any { return &c.MaxQueuedBytes }, check: sizeRange(1, 0)},
	{key: "max_payload_bytes", kind: kindSize, arg: "BYTES", help: "largest payload of one task",
		ptr: func(c *Config) any { return &c.MaxPayloadBytes }, check: sizeRange(1, 0)},
	{key: "max_output_bytes", kind: kindSize, arg: "BYTES", help: "largest output of one attempt",
		ptr: func(c *Config) any { return &c.MaxOutputBytes }, check: sizeRange(1, 0)},
	{key: "max_frame_bytes", kind: kindSize, arg: "BYTES", help: "largest frame on a task connection; at least 64KiB above both payload and output limits, at most 1GiB",
		ptr: func(c *Config) any { return &c.MaxFrameBytes }, check: sizeRange(frameOverhead+1, maxFrameLimit)},
	{key: "heartbeat_interval", kind: kindDuration, arg: "DURATION", help: "time between heartbeats on a task connection",
		ptr: func(c *Config) any { return &c.HeartbeatInterval }, check: positiveDuration},
	{key: "heartbeat_timeout", kind: kindDuration, arg: "DURATION", help: "silence after which a task connection counts as dead, at least twice heartbeat_interval",
		ptr: func(c *Config) any { return &c.HeartbeatTimeout }, check: positiveDuration},
	{key: "result_retention", kind: kindDuration, arg: "DURATION", help: "master: how long a finished task and its result are kept",
		ptr: func(c *Config) any { return &c.ResultRetention }, check: positiveDuration},
	{key: "max_result_bytes", kind: kindSize, arg: "BYTES", help: "master: total output of finished tasks kept; past it the oldest are forgotten before result_retention",
		ptr: func(c *Config) any { return &c.MaxResultBytes }, check: sizeRange(1, 0)},
	{key: "adopt_grace", kind: kindDuration, arg: "DURATION", help: "master: time workers have after a master restart to claim running attempts",
		ptr: func(c *Config) any { return &c.AdoptGrace }, check: positiveDuration},
	{key: "encrypt", kind: kindString, arg: "KEY", help: "gossip encryption key, base64 of 16, 24 or 32 bytes from lbd keygen; also authenticates task connections",
		def: "none", ptr: func(c *Config) any { return &c.Encrypt }, check: checkGossipKey, secret: true},
	{key: "keyring_file", kind: kindString, arg: "PATH", help: "absolute path of a file of gossip keys, one base64 key per line, the primary first; read again on SIGHUP",
		def: "none", ptr: func(c *Config) any { return &c.KeyringFile }, check: optionalAbsPath},
	{key: "api_token", kind: kindString, arg: "TOKEN", help: "master: bearer token the HTTP API requires, at least 16 characters; client commands read LBD_API_TOKEN too",
		def: "none", ptr: func(c *Config) any { return &c.APIToken }, check: checkAPIToken, secret: true},
	{key: "api_token_file", kind: kindString, arg: "PATH", help: "master: absolute path of a file that contains the API token",
		def: "none", ptr: func(c *Config) any { return &c.APITokenFile }, check: optionalAbsPath},
	{key: "metrics_require_token", kind: kindBool, help: "master: require the API token for /metrics too",
		ptr: func(c *Config) any { return &c.MetricsRequireToken }},
	{key: "tls_ca_file", kind: kindString, arg: "PATH", help: "absolute path of the cluster CA certificate (lbd tls-ca); with tls_cert_file and tls_key_file, task connections use mutual TLS",
		def: "none", ptr: func(c *Config) any { return &c.TLSCAFile }, check: optionalAbsPath},
	{key: "tls_cert_file", kind: kindString, arg: "PATH", help: "absolute path of this node's certificate (lbd tls-cert), whose common name is the node name; read again on SIGHUP",
		def: "none", ptr: func(c *Config) any { return &c.TLSCertFile }, check: optionalAbsPath},
	{key: "tls_key_file", kind: kindString, arg: "PATH", help: "absolute path of the private key of tls_cert_file; read again on SIGHUP",
		def: "none", ptr: func(c *Config) any { return &c.TLSKeyFile }, check: optionalAbsPath},
	{key: "task_encryption", kind: kindBool, help: "run task connections over TLS without certificates, authenticated by the gossip key (needs encrypt or keyring_file)",
		ptr: func(c *Config) any { return &c.TaskEncryption }},
	{key: "api_tls_cert_file", kind: kindString, arg: "PATH", help: "master: absolute path of the HTTPS certificate of the API; with api_tls_key_file the API serves HTTPS only",
		def: "none", ptr: func(c *Config) any { return &c.APITLSCertFile }, check: optionalAbsPath},
	{key: "api_tls_key_file", kind: kindString, arg: "PATH", help: "master: absolute path of the private key of api_tls_cert_file",
		def: "none", ptr: func(c *Config) any { return &c.APITLSKeyFile }, check: optionalAbsPath},
	{key: "api_ca_file", kind: kindString, arg: "PATH", help: "CA certificate that client commands verify an HTTPS master with; they read LBD_API_CA_FILE and fall back to tls_ca_file",
		def: "none", ptr: func(c *Config) any { return &c.APICAFile }, check: optionalAbsPath},
	{key: "max_conns_per_addr", kind: kindInt, arg: "N", help: "master: task connections kept from one remote IP address, handshakes included",
		ptr: func(c *Config) any { return &c.MaxConnsPerAddr }, check: intRange(1, 0)},
	{key: "max_pending_handshakes", kind: kindInt, arg: "N", help: "master: task connections still in their handshake; more are closed at once",
		ptr: func(c *Config) any { return &c.MaxPendingHandshakes }, check: intRange(1, 0)},
	{key: "max_http_conns", kind: kindInt, arg: "N", help: "master: open connections to the HTTP API; further clients wait until one closes",
		ptr: func(c *Config) any { return &c.MaxHTTPConns }, check: intRange(1, 0)},
	{key: "max_members", kind: kindInt, arg: "N", help: "alive gossip members a node tracks, itself included; gossip about more is ignored",
		ptr: func(c *Config) any { return &c.MaxMembers }, check: intRange(2, 0)},
	{key: "population", block: blockWorker, kind: kindInt, arg: "N", help: "worker: number of slots, each running one task at a time, 1 to 100000",
		def: "the number of CPUs", ptr: func(c *Config) any { return &c.Worker.Population }, check: intRange(1, maxPopulation)},
	{key: "drain_timeout", block: blockWorker, kind: kindDuration, arg: "DURATION", help: "worker: time a draining worker waits for running tasks before it hands them back",
		ptr: func(c *Config) any { return &c.Worker.DrainTimeout }, check: positiveDuration},
	{key: "builtins", block: blockWorker, kind: kindList, arg: "LIST", help: "worker: built-in handlers to enable, comma-separated: echo, sleep",
		def: "none", dev: "echo,sleep", ptr: func(c *Config) any { return &c.Worker.Builtins }, check: builtinList},
	{key: "queues", block: blockWorker, kind: kindString, arg: "LIST", help: "worker: queues to take tasks from with their weights, NAME=WEIGHT comma-separated, weights 1 to 1000; in the file also { NAME = WEIGHT, ... }",
		ptr: func(c *Config) any { return &c.Worker.Queues }, check: checkQueues},
	{key: "strict_order", block: blockWorker, kind: kindBool, help: "worker: serve queues in the order listed, a later queue only while the earlier ones are empty, instead of by weight",
		ptr: func(c *Config) any { return &c.Worker.StrictOrder }},
}

// Block names in the file.
const (
	blockWorker   = "worker"
	blockHandler  = "handler"
	blockTaskType = "task_type"
)

// settingByKey returns the setting with key in block, or nil.
func settingByKey(block, key string) *setting {
	for _, s := range settings {
		if s.block == block && s.key == key {
			return s
		}
	}
	return nil
}

// keysIn returns the keys of the settings in block.
func keysIn(block string) []string {
	var keys []string
	for _, s := range settings {
		if s.block == block {
			keys = append(keys, s.key)
		}
	}
	return keys
}

// assign stores v, which parseText or parseCty returned for s.kind, in c.
// A list value is appended when appendList is set.
func (s *setting) assign(c *Config, v any, appendList bool) {
	switch p := s.ptr(c).(type) {
	case *string:
		*p = v.(string)
	case *bool:
		*p = v.(bool)
	case *int:
		*p = v.(int)
	case *int64:
		*p = v.(int64)
	case *time.Duration:
		*p = v.(time.Duration)
	case *[]string:
		if appendList {
			*p = append(*p, v.([]string)...)
		} else {
			*p = v.([]string)
		}
	}
}
