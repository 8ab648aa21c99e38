// Package config builds the configuration of an lbd node. Four sources fill
// one Config, from weakest to strongest: built-in defaults, an HCL file,
// LBD_* environment variables and command-line flags.
//
// Every setting has one name in each source: the file key data_dir is the
// flag -data-dir and the variable LBD_DATA_DIR. Keys of the worker block drop
// the block name, so worker { population = 8 } is -population and
// LBD_POPULATION. Loading collects every problem it finds, with the file
// position or the flag or variable that caused it, and returns them together
// as an *Error.
package config

import (
	"os"
	"runtime"
	"time"

	"github.com/lbd-dev/lbd/tlsutil"
)

// Roles of a node.
const (
	RoleMaster = "master"
	RoleWorker = "worker"
)

// Values of Config.Durability.
const (
	DurabilityFsync = "fsync" // every accepted task is fsync'ed before the API returns its id
	DurabilityNone  = "none"  // no fsync: a crash of the master can lose accepted tasks
)

// Names of the built-in handlers that Worker.Builtins can enable. A handler
// block may not use these names.
const (
	BuiltinEcho  = "echo"
	BuiltinSleep = "sleep"
)

// Config is the whole configuration of a node. Durations are time.Duration,
// sizes are int64 bytes.
type Config struct {
	// Role is "master" or "worker" (key role, flag -role, LBD_ROLE). It is
	// required unless Dev is set, and must be empty when Dev is set.
	Role string

	// Dev runs a master and a local worker in one process that listens on
	// loopback addresses only (key dev, flag -dev, LBD_DEV).
	Dev bool

	// Node is the name of this node in the cluster, 1 to 128 characters
	// without whitespace or control characters. Default: os.Hostname().
	Node string

	// Bind is the gossip listen address, host:port. An empty host means all
	// interfaces. Default "0.0.0.0:7946", "127.0.0.1:7946" in dev mode.
	Bind string

	// Advertise is the gossip address that other nodes use to reach this
	// one, host:port. When the file or flag gives only a host, the port of
	// Bind is added. Default "": memberlist picks a private address.
	Advertise string

	// Join lists seed nodes, each host:port; a seed given without a port gets
	// 7946. Flags and variables take a comma-separated list.
	Join []string

	// RejoinInterval is how often a node joins the seeds and the peers it
	// knew again after losing them. Default 30s.
	RejoinInterval time.Duration

	// DataDir is the absolute path of the directory of the durable task
	// store. Default "/var/lib/lbd"; in dev mode lbd-dev-<node> under
	// os.TempDir().
	DataDir string

	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string

	// LogFormat is text or json. Default text.
	LogFormat string

	// TaskAddr is the master's task listener, host:port, which workers
	// dial. Default "0.0.0.0:7947", "127.0.0.1:7947" in dev mode.
	TaskAddr string

	// HTTPAddr is the master's HTTP API address, host:port. The CLI reads
	// LBD_HTTP_ADDR too. Default "127.0.0.1:7948" on a master. On a worker
	// it is unset by default, and when set the worker serves /metrics and
	// /healthz there.
	HTTPAddr string

	// Durability is "fsync" or "none". Default "fsync", "none" in dev mode.
	Durability string

	// MaxAttempts is the number of attempts a task gets before it ends as
	// failed, 1 to 1000.
	// Default 3.
	MaxAttempts int

	// TaskTimeout is the time one attempt may run when neither the task nor
	// its type sets a timeout. Default 10m.
	TaskTimeout time.Duration

	// RetryBackoff is the delay before the first retry of a task.
	// Default 1s.
	RetryBackoff time.Duration

	// RetryBackoffMax is the maximum delay between retries, at least
	// RetryBackoff.
	// Default 5m.
	RetryBackoffMax time.Duration

	// MaxQueuedTasks is how many unfinished tasks the master keeps before it
	// rejects new ones. Default 1000000.
	MaxQueuedTasks int

	// MaxQueuedBytes is the total payload size of unfinished tasks that the
	// master keeps before it rejects new ones. Default 1 GiB.
	MaxQueuedBytes int64

	// MaxPayloadBytes is the largest payload of one task. Default 8 MiB.
	MaxPayloadBytes int64

	// MaxOutputBytes is the largest output of one attempt. Default 8 MiB.
	MaxOutputBytes int64

	// MaxResultBytes bounds the outputs of finished tasks that the master
	// keeps. Past it, the oldest finished tasks are forgotten before their
	// ResultRetention ends. Default 1 GiB.
	MaxResultBytes int64

	// MaxFrameBytes is the largest frame on a task connection. It exceeds
	// MaxPayloadBytes and MaxOutputBytes by at least 64 KiB and is at most
	// 1 GiB. Default 64 MiB.
	MaxFrameBytes int64

	// HeartbeatInterval is the time between heartbeats on a task
	// connection. Default 500ms.
	HeartbeatInterval time.Duration

	// HeartbeatTimeout is the silence after which a task connection counts
	// as dead, at least twice HeartbeatInterval. Default 2s.
	HeartbeatTimeout time.Duration

	// ResultRetention is how long the master keeps a finished task and its
	// result. Default 24h.
	ResultRetention time.Duration

	// AdoptGrace is how long workers have after a master restart to claim
	// the attempts they still run before the master requeues them.
	// Default 10s.
	AdoptGrace time.Duration

	// Encrypt is the gossip encryption key, base64 of 16, 24 or 32 bytes
	// (lbd keygen prints one). It also keys the authentication of task
	// connections. Default "": gossip and task connections are not
	// authenticated. It excludes KeyringFile.
	Encrypt string

	// KeyringFile is the absolute path of a file with one base64 gossip
	// key per line, the primary key first. A reload (SIGHUP) reads it
	// again, so keys rotate without a restart. It excludes Encrypt.
	KeyringFile string

	// GossipKeys holds the keys that Encrypt or KeyringFile give, the
	// primary key first; nil when gossip is not encrypted.
	GossipKeys [][]byte

	// APIToken is the bearer token that the master's HTTP API requires,
	// at least 16 printable characters without spaces. When APITokenFile
	// is set, loading fills it from that file. Default "": no token.
	APIToken string

	// APITokenFile is the absolute path of a file that contains the API
	// token. It excludes APIToken.
	APITokenFile string

	// MetricsRequireToken makes /metrics require the API token too.
	// Default false: /metrics and /healthz are served without it.
	MetricsRequireToken bool

	// TLSCAFile, TLSCertFile and TLSKeyFile are the absolute paths of the
	// cluster CA certificate, this node's certificate and its private key,
	// in PEM (lbd tls-ca and lbd tls-cert write them). Set all three or
	// none. With them, task connections use TLS 1.3 with certificates on
	// both ends. Default "".
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string

	// TLS holds the certificates that the tls_* files give, loaded and
	// checked; nil without them.
	TLS *tlsutil.Certs

	// TaskEncryption runs task connections over TLS 1.3 with throwaway
	// certificates, authenticated by the gossip key, when the tls_* files
	// are not set. It requires encrypt or keyring_file. With the tls_*
	// files, task connections use TLS whatever its value. Default false.
	TaskEncryption bool

	// APITLSCertFile and APITLSKeyFile are the absolute paths of the
	// certificate and private key of the master's HTTPS API, in PEM. Set
	// both or neither; with both, the API serves HTTPS only. Default "".
	APITLSCertFile string
	APITLSKeyFile  string

	// APITLS holds the API's certificate, loaded and checked; nil without
	// one.
	APITLS *tlsutil.Certs

	// APICAFile is the absolute path of the CA certificate that client
	// commands (lbd submit, lbd health and the others) verify the master's
	// HTTPS certificate with, when they take it from LBD_API_CA_FILE. They
	// fall back to tls_ca_file. Default "".
	APICAFile string

	// MaxConnsPerAddr caps the task connections, handshakes included,
	// that the master keeps from one remote IP address. Default 64.
	MaxConnsPerAddr int

	// MaxPendingHandshakes caps the task connections that are still in
	// their handshake on the master. Default 128.
	MaxPendingHandshakes int

	// MaxMembers caps the alive gossip members a node tracks, itself
	// included. Default 10000.
	MaxMembers int

	// MaxHTTPConns caps the open connections to the master's HTTP API;
	// further clients wait until one closes. Default 1024.
	MaxHTTPConns int

	// TaskTypes holds per-type overrides, from task_type "NAME" { } blocks.
	TaskTypes map[string]TaskType

	// Queues holds per-queue limits of the master, from queue "NAME" { }
	// blocks.
	Queues map[string]QueueLimits

	// Worker holds the settings of the worker block.
	Worker Worker

	// File is the path of the file loaded, "" if none.
	File string

	// Warnings lists problems that do not stop loading, such as an LBD_*
	// variable that names no setting.
	Warnings []string
}

// TaskType overrides global settings for the tasks of one type. A zero
// field means the global setting applies.
type TaskType struct {
	Timeout     time.Duration
	MaxAttempts int
}

// Worker is the configuration of the worker role.
type Worker struct {
	// Population is the number of slots, each running one task at a time,
	// 1 to 100000. Default runtime.NumCPU().
	Population int

	// DrainTimeout is how long a draining worker waits for running tasks
	// before it hands them back. Default 30s.
	DrainTimeout time.Duration

	// Queues lists the queues the worker takes tasks from with their
	// weights, "critical=6,default=3,low=1"; ParseQueues reads it. Default
	// "default=1".
	Queues string

	// StrictOrder serves Queues in list order instead of by weight.
	StrictOrder bool

	// Builtins lists the built-in handlers to enable, a subset of "echo"
	// and "sleep". Dev mode enables both.
	Builtins []string

	// Handlers maps a task type to the program that runs its tasks.
	Handlers map[string]Handler
}

// Handler runs a program for each task (the payload goes to its stdin and
// its stdout is the output, and no shell is involved), or posts the payload
// to a URL. Exactly one of Command and URL is set.
type Handler struct {
	// Command is the program, a name looked up in PATH or a path, and its
	// arguments.
	Command []string

	// URL is an http:// or https:// URL that each task's payload is posted
	// to; a 2xx response's body is the output.
	URL string

	// Dir is the absolute working directory, "" for the worker's own.
	Dir string

	// Env holds variables added to the worker's environment.
	Env map[string]string

	// Timeout overrides the task timeout for this handler; zero keeps it.
	Timeout time.Duration
}

// Defaults returns the built-in defaults for a node outside dev mode. Node is
// the host name, or "" when os.Hostname fails.
func Defaults() *Config {
	node, _ := os.Hostname()
	return &Config{
		Node:              node,
		Bind:              "0.0.0.0:7946",
		RejoinInterval:    30 * time.Second,
		DataDir:           "/var/lib/lbd",
		LogLevel:          "info",
		LogFormat:         "text",
		TaskAddr:          "0.0.0.0:7947",
		HTTPAddr:          "127.0.0.1:7948",
		Durability:        DurabilityFsync,
		MaxAttempts:       3,
		TaskTimeout:       10 * time.Minute,
		RetryBackoff:      time.Second,
		RetryBackoffMax:   5 * time.Minute,
		MaxQueuedTasks:    1_000_000,
		MaxQueuedBytes:    1 << 30,
		MaxPayloadBytes:   8 << 20,
		MaxOutputBytes:    8 << 20,
		MaxResultBytes:    1 << 30,
		MaxFrameBytes:     64 << 20,
		HeartbeatInterval: 500 * time.Millisecond,
		HeartbeatTimeout:  2 * time.Second,
		ResultRetention:   24 * time.Hour,
		AdoptGrace:        10 * time.Second,
		TaskTypes:         map[string]TaskType{},
		Queues:            map[string]QueueLimits{},
		Worker: Worker{
			Queues:       "default=1",
			Population:   runtime.NumCPU(),
			DrainTimeout: 30 * time.Second,
			Handlers:     map[string]Handler{},
		},
		MaxConnsPerAddr:      64,
		MaxPendingHandshakes: 128,
		MaxHTTPConns:         1024,
		MaxMembers:           10_000,
	}
}
