package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"reflect"

	"github.com/lbd-dev/lbd/config"
	"github.com/lbd-dev/lbd/membership"
	"github.com/lbd-dev/lbd/tlsutil"
	"github.com/lbd-dev/lbd/wire"
)

// newLogger builds a logger from the log_format setting whose level is
// level, which a reload can change while the node runs. It sets level from
// the log_level setting.
func newLogger(cfg *config.Config, w io.Writer, level *slog.LevelVar) *slog.Logger {
	level.Set(parseLevel(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parseLevel returns the slog level of a log_level value. config.Load
// accepts only debug, info, warn and error, so the fallback to info is
// never taken for a loaded Config.
func parseLevel(s string) slog.Level {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return level
}

// restartSetting is a setting that the running node read once at start-up.
type restartSetting struct {
	key    string
	reader string // the part of the node that holds the value
	get    func(*config.Config) any
}

// restartSettings lists every setting that a reload cannot apply. A change
// to one is logged with its name and stays unapplied until a restart. The
// scheduler copies its limits at start and has no setters, so its settings
// are here as well.
var restartSettings = []restartSetting{
	{"role", "node", func(c *config.Config) any { return c.Role }},
	{"dev", "node", func(c *config.Config) any { return c.Dev }},
	{"node", "gossip", func(c *config.Config) any { return c.Node }},
	{"bind", "gossip", func(c *config.Config) any { return c.Bind }},
	{"advertise", "gossip", func(c *config.Config) any { return c.Advertise }},
	{"join", "gossip", func(c *config.Config) any { return c.Join }},
	{"rejoin_interval", "gossip", func(c *config.Config) any { return c.RejoinInterval }},
	{"data_dir", "task store", func(c *config.Config) any { return c.DataDir }},
	{"durability", "task store", func(c *config.Config) any { return c.Durability }},
	{"log_format", "logger", func(c *config.Config) any { return c.LogFormat }},
	{"task_addr", "task listener", func(c *config.Config) any { return c.TaskAddr }},
	{"http_addr", "HTTP listener", func(c *config.Config) any { return c.HTTPAddr }},
	{"max_attempts", "scheduler", func(c *config.Config) any { return c.MaxAttempts }},
	{"task_timeout", "scheduler", func(c *config.Config) any { return c.TaskTimeout }},
	{"retry_backoff", "scheduler", func(c *config.Config) any { return c.RetryBackoff }},
	{"retry_backoff_max", "scheduler", func(c *config.Config) any { return c.RetryBackoffMax }},
	{"max_queued_tasks", "scheduler", func(c *config.Config) any { return c.MaxQueuedTasks }},
	{"max_queued_bytes", "scheduler", func(c *config.Config) any { return c.MaxQueuedBytes }},
	{"max_payload_bytes", "scheduler and HTTP API", func(c *config.Config) any { return c.MaxPayloadBytes }},
	{"result_retention", "scheduler", func(c *config.Config) any { return c.ResultRetention }},
	{"adopt_grace", "scheduler", func(c *config.Config) any { return c.AdoptGrace }},
	{"task_type", "scheduler", func(c *config.Config) any { return c.TaskTypes }},
	{"max_output_bytes", "worker", func(c *config.Config) any { return c.MaxOutputBytes }},
	{"max_frame_bytes", "task connections", func(c *config.Config) any { return c.MaxFrameBytes }},
	{"heartbeat_interval", "task connections", func(c *config.Config) any { return c.HeartbeatInterval }},
	{"heartbeat_timeout", "task connections", func(c *config.Config) any { return c.HeartbeatTimeout }},
	{"drain_timeout", "worker", func(c *config.Config) any { return c.Worker.DrainTimeout }},
	{"max_conns_per_addr", "task listener", func(c *config.Config) any { return c.MaxConnsPerAddr }},
	{"max_pending_handshakes", "task listener", func(c *config.Config) any { return c.MaxPendingHandshakes }},
	{"max_members", "gossip", func(c *config.Config) any { return c.MaxMembers }},
	{"max_http_conns", "HTTP listener", func(c *config.Config) any { return c.MaxHTTPConns }},
	{"queue", "scheduler", func(c *config.Config) any { return c.Queues }},
	{"queues", "worker", func(c *config.Config) any { return c.Worker.Queues }},
	{"strict_order", "worker", func(c *config.Config) any { return c.Worker.StrictOrder }},
}

// reload loads the configuration again and applies what can change while
// the node runs: log_level, and on a worker its population, builtins and
// handlers. An invalid configuration is logged and the node keeps its
// current one. It sends RELOADING=1 first and READY=1 when done.
func (n *Node) reload(load func() (*config.Config, error)) {
	if load == nil {
		n.log.Warn("SIGHUP ignored: this node was started without a way to load its configuration again")
		return
	}
	n.notify.reloading()
	n.log.Info("reloading the configuration", "file", n.cfg.File)

	cfg, err := load()
	if err != nil {
		n.log.Error("reload failed: the configuration is invalid, so the node keeps its current one", "err", err)
	} else {
		n.applyConfig(cfg)
	}
	n.notify.send("READY=1\nSTATUS=" + n.statusLine())
}

// applyConfig applies the live settings of cfg and logs every other
// setting that differs from the running configuration.
func (n *Node) applyConfig(cfg *config.Config) {
	running := n.cfg
	for _, s := range restartSettings {
		old, loaded := s.get(running), s.get(cfg)
		if !reflect.DeepEqual(old, loaded) {
			n.log.Warn(s.key+" changed; restart to apply", "setting", s.key, "read_by", s.reader,
				"running", fmt.Sprint(old), "loaded", fmt.Sprint(loaded))
		}
	}

	applied := *running
	applied.Warnings = cfg.Warnings
	for _, w := range cfg.Warnings {
		n.log.Warn("configuration warning", "warning", w)
	}
	n.applyLogLevel(&applied, cfg.LogLevel)
	n.applyKeyring(&applied, cfg)
	n.applyTaskCerts(&applied, cfg)
	n.applyAPICerts(&applied, cfg)
	warnSecretChanged(n.log, running, cfg)
	if n.worker != nil {
		n.applyWorker(&applied, cfg.Worker)
	}
	n.cfg = &applied
	n.log.Info("configuration reloaded", "log_level", applied.LogLevel, "population", applied.Worker.Population)
}

// applyKeyring installs the gossip keys of loaded when they differ from the
// running ones, on every gossip member of this node. The task server and
// the worker read the keyring per connection, so task authentication
// follows at once. Keys are never logged, only their number and a short
// SHA-256 fingerprint of the primary key.
func (n *Node) applyKeyring(applied *config.Config, loaded *config.Config) {
	if reflect.DeepEqual(applied.GossipKeys, loaded.GossipKeys) {
		return
	}
	for _, m := range n.gossipMembers() {
		if err := m.SetKeys(loaded.GossipKeys); err != nil {
			n.log.Error("reload of the gossip keyring failed; the node keeps its keys", "err", err)
			return
		}
	}
	applied.Encrypt = loaded.Encrypt
	applied.KeyringFile = loaded.KeyringFile
	applied.GossipKeys = loaded.GossipKeys
	n.log.Info("gossip keyring reloaded", "keys", len(loaded.GossipKeys),
		"primary_key_fingerprint", keyFingerprint(loaded.GossipKeys[0]))
}

// applyTaskCerts installs the task connection certificates of loaded for
// new connections when they differ from the running ones. Open connections
// keep the certificates they were made with. Turning TLS on or off needs a
// restart. A certificate that fails its checks never gets here: the
// reload fails and the node keeps its certificates.
func (n *Node) applyTaskCerts(applied, loaded *config.Config) {
	from, to := transportMode(applied), transportMode(loaded)
	if from != to {
		n.log.Warn("task transport changed; restart to apply", "setting", "task_encryption and tls_*", "read_by", "task connections",
			"running", from, "loaded", to)
		return
	}
	if applied.TLS == nil || (applied.TLS.Equal(loaded.TLS) && sameFiles(applied.TLS, loaded.TLS)) {
		return
	}
	var stores []*tlsutil.Store
	if n.master != nil {
		stores = append(stores, n.master.taskCerts)
	}
	if n.worker != nil {
		stores = append(stores, n.worker.taskCerts)
	}
	for _, s := range stores {
		if s != nil {
			s.Set(loaded.TLS)
		}
	}
	applied.TLSCAFile, applied.TLSCertFile, applied.TLSKeyFile = loaded.TLSCAFile, loaded.TLSCertFile, loaded.TLSKeyFile
	applied.TLS = loaded.TLS
	logCerts(n.log, "task connection certificates reloaded; new connections use them", loaded.TLS)
}

// applyAPICerts installs the HTTPS certificate of loaded for new
// connections. Turning HTTPS on or off needs a restart.
func (n *Node) applyAPICerts(applied, loaded *config.Config) {
	if (applied.APITLS == nil) != (loaded.APITLS == nil) {
		n.log.Warn("api_tls_cert_file changed; restart to apply", "setting", "api_tls_cert_file", "read_by", "HTTP listener",
			"running", applied.APITLSCertFile, "loaded", loaded.APITLSCertFile)
		return
	}
	if applied.APITLS == nil || n.master == nil || (applied.APITLS.Equal(loaded.APITLS) && sameFiles(applied.APITLS, loaded.APITLS)) {
		return
	}
	n.master.apiCerts.Set(loaded.APITLS)
	applied.APITLSCertFile, applied.APITLSKeyFile = loaded.APITLSCertFile, loaded.APITLSKeyFile
	applied.APITLS = loaded.APITLS
	logCerts(n.log, "HTTPS API certificate reloaded; new connections use it", loaded.APITLS)
}

// sameFiles reports whether a and b were read from the same paths.
func sameFiles(a, b *tlsutil.Certs) bool {
	return a.CA == b.CA && a.Cert == b.Cert && a.Key == b.Key
}

// warnSecretChanged logs a change of the API token settings, which apply
// only at a restart, without their values.
func warnSecretChanged(log *slog.Logger, running, loaded *config.Config) {
	if running.APIToken != loaded.APIToken || running.APITokenFile != loaded.APITokenFile {
		log.Warn("api_token changed; restart to apply", "setting", "api_token", "read_by", "HTTP API")
	}
	if running.MetricsRequireToken != loaded.MetricsRequireToken {
		log.Warn("metrics_require_token changed; restart to apply", "setting", "metrics_require_token", "read_by", "HTTP API",
			"running", running.MetricsRequireToken, "loaded", loaded.MetricsRequireToken)
	}
}

// gossipMembers returns the gossip members this node runs: one, or two in
// dev mode.
func (n *Node) gossipMembers() []*membership.Membership {
	var out []*membership.Membership
	if n.master != nil {
		out = append(out, n.master.members)
	}
	if n.worker != nil {
		out = append(out, n.worker.members)
	}
	return out
}

// keyFingerprint returns the first 4 bytes of the key's SHA-256 in hex, to
// tell keys apart in logs without revealing them.
// logGossipKeys logs at start the number of gossip keys and the primary
// key's fingerprint, so that an operator can compare nodes before a key
// rotation.
func logGossipKeys(log *slog.Logger, keys [][]byte) {
	if len(keys) == 0 {
		return
	}
	log.Info("gossip encryption on", "keys", len(keys), "primary_key_fingerprint", keyFingerprint(keys[0]))
}

func keyFingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

func (n *Node) applyLogLevel(applied *config.Config, level string) {
	if level == applied.LogLevel {
		return
	}
	if n.level == nil {
		n.log.Warn("log_level changed, but the logger was supplied by the embedding program; restart to apply",
			"running", applied.LogLevel, "loaded", level)
		return
	}
	n.level.Set(parseLevel(level))
	n.log.Info("log level changed", "from", applied.LogLevel, "to", level)
	applied.LogLevel = level
}

// applyWorker changes the worker's slots and handlers when the worker block
// changed. Attempts that run keep their handler. A handler that cannot be
// built leaves the worker as it was.
func (n *Node) applyWorker(applied *config.Config, loaded config.Worker) {
	next := *applied
	next.Worker.Population = loaded.Population
	next.Worker.Builtins = loaded.Builtins
	next.Worker.Handlers = loaded.Handlers
	if n.cfg.Dev {
		// Dev mode always runs the echo and sleep builtins.
		next.Worker.Builtins = applied.Worker.Builtins
	}
	if reflect.DeepEqual(next.Worker, applied.Worker) {
		return
	}

	handlers, err := buildHandlers(&next)
	if err != nil {
		n.log.Error("reload of the worker block failed; the worker keeps its slots and handlers", "err", err)
		return
	}
	if err := n.worker.w.Update(next.Worker.Population, handlers); err != nil {
		n.log.Error("reload of the worker block failed; the worker keeps its slots and handlers", "err", err)
		return
	}
	types := handlerNames(handlers)
	meta := wire.Meta{Role: wire.RoleWorker, Version: n.version, Slots: next.Worker.Population, Types: types}
	if err := n.worker.members.UpdateMeta(meta); err != nil {
		// The master takes slots and types from the task connection, so
		// only the gossip view is stale.
		n.log.Warn("update gossip metadata failed", "err", err)
	}
	applied.Worker = next.Worker
}
