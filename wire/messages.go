// Package wire defines lbd's task protocol: the messages that travel between
// the master and its workers over one TCP connection per worker, their
// msgpack encoding, and the length-prefixed framing around them.
//
// A connection starts with the worker writing a 4-byte preamble ("LBD" and
// the protocol version) and a Hello frame. The master responds with Welcome
// or Reject. A master whose gossip is encrypted first sends a Challenge, and
// the worker responds with Auth (see auth.go). After that both sides
// exchange frames until one closes the connection. Each frame is:
//
//	uint32 big-endian length L | 1 byte message type | L-1 bytes msgpack body
//
// L counts the type byte and the body. A reader checks L against its maximum
// before it reads anything else, and grows the body's buffer as its bytes
// arrive.
package wire

// ProtocolVersion is the version that the preamble carries. A master rejects
// a worker that speaks another version.
const ProtocolVersion = 1

// Type identifies the message that a frame carries.
type Type uint8

// Message types. New types are appended; numbers are never reused.
const (
	TypeHello     Type = 1  // worker → master, first frame
	TypeWelcome   Type = 2  // master → worker, response to Hello
	TypeReject    Type = 3  // master → worker, response to Hello, then close
	TypeAssign    Type = 4  // master → worker
	TypeResult    Type = 5  // worker → master
	TypeCancel    Type = 6  // master → worker
	TypeHeartbeat Type = 7  // both ways
	TypeDrain     Type = 8  // both ways
	TypeSlots     Type = 9  // worker → master, slot count or types changed
	TypeChallenge Type = 10 // master → worker, response to Hello when gossip is encrypted
	TypeAuth      Type = 11 // worker → master, response to Challenge
)

// String returns the message type's name for logs and errors.
func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeWelcome:
		return "welcome"
	case TypeReject:
		return "reject"
	case TypeAssign:
		return "assign"
	case TypeResult:
		return "result"
	case TypeCancel:
		return "cancel"
	case TypeHeartbeat:
		return "heartbeat"
	case TypeDrain:
		return "drain"
	case TypeSlots:
		return "slots"
	case TypeChallenge:
		return "challenge"
	case TypeAuth:
		return "auth"
	}
	return "unknown"
}

// AttemptRef names one attempt of one task.
type AttemptRef struct {
	_struct struct{} `codec:",toarray"`

	TaskID  string
	Attempt uint32
}

// Hello is the worker's first frame. Running lists the attempts that the
// worker still executes from an earlier connection, so that a master that
// restarted or lost the connection can adopt them instead of running them
// again.
type Hello struct {
	_struct struct{} `codec:",toarray"`

	Node     string   // gossip node name of the worker
	Version  string   // lbd build version, for logs
	Slots    int      // number of tasks the worker runs at once
	Types    []string // task types the worker has handlers for
	Running  []AttemptRef
	Draining bool // the worker takes no new tasks

	// GossipAddr is the worker's gossip address. A master that does not
	// yet see the worker in gossip (it restarted, say) joins it there.
	GossipAddr string

	// Queues are the queues the worker serves with their weights; empty
	// (an older worker) means the queue "default" with weight 1.
	Queues []QueueWeight
	// StrictOrder serves Queues in list order instead of by weight.
	StrictOrder bool

	// Nonce is NonceSize random bytes from a worker that has a gossip key.
	// The master proves in Welcome.Proof that it holds the key too.
	Nonce []byte
}

// Welcome accepts a worker. Stale lists attempts from Hello.Running that
// the master has written off; the worker stops them and drops their results.
type Welcome struct {
	_struct struct{} `codec:",toarray"`

	Master            string // gossip node name of the master
	HeartbeatInterval int64  // nanoseconds between heartbeats the worker sends
	HeartbeatTimeout  int64  // nanoseconds of silence after which the master drops the worker
	Stale             []AttemptRef

	// Proof is MasterProof of Hello.Nonce under the key that the worker's
	// Auth matched, when the worker sent a nonce.
	Proof []byte
}

// Reject refuses a worker. The master closes the connection after it.
type Reject struct {
	_struct struct{} `codec:",toarray"`

	Reason string
}

// Assign hands one attempt of a task to the worker. The worker must respond
// to it with exactly one Result of the same TaskID and Attempt.
type Assign struct {
	_struct struct{} `codec:",toarray"`

	TaskID  string
	Attempt uint32
	Type    string
	Payload []byte
	Timeout int64 // nanoseconds; the worker kills the handler after it
}

// Result reports how an attempt ended.
type Result struct {
	_struct struct{} `codec:",toarray"`

	TaskID   string
	Attempt  uint32
	OK       bool
	Output   []byte
	Error    string // set when OK is false
	Duration int64  // nanoseconds the handler ran

	// HandedBack means the worker stopped the attempt without a verdict
	// (it drained or shut down): the master requeues the task and does not
	// count the attempt against max_attempts.
	HandedBack bool
}

// Cancel requests that the worker stop an attempt. The worker still sends a Result
// for it, which the master ignores.
type Cancel struct {
	_struct struct{} `codec:",toarray"`

	TaskID  string
	Attempt uint32
}

// Heartbeat proves that the sender is alive while no other frame flows.
type Heartbeat struct {
	_struct struct{} `codec:",toarray"`

	Running int // attempts the sending worker runs; 0 from the master

	// Results, from the master, counts the Result frames it has processed
	// on this connection. It acknowledges them: the worker drops the
	// first Results results that it sent on the connection.
	Results uint64
}

// Drain from the master requests that the worker drain: finish its running tasks
// and leave. Drain from the worker informs the master to assign it nothing more.
type Drain struct {
	_struct struct{} `codec:",toarray"`

	Reason string
}

// Slots informs the master that the worker's slot count or task types changed,
// for example after a configuration reload.
type Slots struct {
	_struct struct{} `codec:",toarray"`

	Slots int
	Types []string
}

// QueueWeight is one queue that a worker serves and its weight.
type QueueWeight struct {
	_struct struct{} `codec:",toarray"`

	Name   string
	Weight int
}
