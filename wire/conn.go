package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// DefaultMaxFrame is the default limit on one frame, type byte and body.
const DefaultMaxFrame = 16 << 20

// headerSize is the length prefix and the type byte.
const headerSize = 5

// preamble opens every task connection.
var preamble = [4]byte{'L', 'B', 'D', ProtocolVersion}

// TLSRecordHandshake is the first byte of a TLS connection: the record
// type of the ClientHello.
const TLSRecordHandshake = 0x16

// PreambleStart is the first byte of a plain task connection.
const PreambleStart = 'L'

// ErrPeerSpeaksTLS is wrapped by the error of ReadPreamble when the peer
// opened a TLS handshake instead of sending the preamble.
var ErrPeerSpeaksTLS = errors.New("the peer speaks TLS")

// ErrClosed is returned by Send after the connection was closed.
var ErrClosed = errors.New("task connection closed")

// FrameTooLargeError reports a frame over the connection's limit.
type FrameTooLargeError struct {
	Size, Max int64
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("frame of %d bytes exceeds the limit of %d bytes (max_frame_bytes)", e.Size, e.Max)
}

// WritePreamble writes the bytes that open a task connection.
func WritePreamble(w io.Writer) error {
	_, err := w.Write(preamble[:])
	return err
}

// ReadPreamble reads and checks the bytes that open a task connection.
func ReadPreamble(r io.Reader) error {
	var got [4]byte
	if _, err := io.ReadFull(r, got[:]); err != nil {
		return fmt.Errorf("read preamble: %w", err)
	}
	if got[0] == TLSRecordHandshake {
		return fmt.Errorf("%w: it opened a TLS handshake instead of the lbd preamble", ErrPeerSpeaksTLS)
	}
	if got[0] != PreambleStart || got[1] != 'B' || got[2] != 'D' {
		return fmt.Errorf("not an lbd task connection (preamble %q)", got[:])
	}
	if got[3] != ProtocolVersion {
		return fmt.Errorf("task protocol version %d, this node speaks %d: run the same lbd release on master and workers", got[3], ProtocolVersion)
	}
	return nil
}

// Conn carries frames over one network connection. Recv must be called from
// one goroutine at a time. Send may be called from any goroutine: frames are
// queued and a writer goroutine writes everything queued in one write, so
// frames sent close together share a system call.
type Conn struct {
	nc      net.Conn
	timeout time.Duration // write deadline per write

	r    *bufio.Reader
	rbuf []byte
	dec  *codec.Decoder

	mu       sync.Mutex // guards the fields below
	maxFrame int
	pending  []byte // encoded frames not yet handed to the writer
	spare    []byte // buffer the writer returned, reused for pending
	scratch  []byte // encoder output
	enc      *codec.Encoder
	closed   bool
	writing  bool  // the writer holds frames taken from pending
	err      error // first write error

	wake chan struct{} // a token means pending has frames
	done chan struct{} // closed when the writer goroutine ends
}

// NewConn wraps nc. maxFrame bounds frames in both directions; writeTimeout
// bounds each write (0 means no deadline).
func NewConn(nc net.Conn, maxFrame int, writeTimeout time.Duration) *Conn {
	if maxFrame <= headerSize {
		maxFrame = DefaultMaxFrame
	}
	c := &Conn{
		nc:       nc,
		maxFrame: maxFrame,
		timeout:  writeTimeout,
		r:        bufio.NewReaderSize(nc, 64<<10),
		dec:      codec.NewDecoderBytes(nil, handle),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	c.enc = codec.NewEncoderBytes(&c.scratch, handle)
	go c.writeLoop()
	return c
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadDeadline sets the deadline for Recv.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Send encodes v as a frame of type t and queues it for writing. It returns
// an error when v cannot be encoded, when the frame exceeds the limit, or when
// the connection is closed or broken; a write error shows up in a later Send
// and in Err.
func (c *Conn) Send(t Type, v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if c.err != nil {
			return c.err
		}
		return ErrClosed
	}

	c.scratch = c.scratch[:0]
	switch m := v.(type) {
	case *Assign:
		c.scratch = appendAssign(c.scratch, m)
	case *Result:
		c.scratch = appendResult(c.scratch, m)
	default:
		c.enc.ResetBytes(&c.scratch)
		if err := c.enc.Encode(v); err != nil {
			return fmt.Errorf("encode %s: %w", t, err)
		}
	}
	size := int64(len(c.scratch)) + 1
	if size > int64(c.maxFrame) {
		return &FrameTooLargeError{Size: size, Max: int64(c.maxFrame)}
	}

	c.pending = binary.BigEndian.AppendUint32(c.pending, uint32(size))
	c.pending = append(c.pending, byte(t))
	c.pending = append(c.pending, c.scratch...)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

func (c *Conn) writeLoop() {
	defer close(c.done)
	for range c.wake {
		// Frames are often sent by several goroutines that became runnable
		// together, such as handlers that finish at the same time. Yielding
		// once lets them queue their frames first, so that one write
		// carries them all instead of one write each.
		runtime.Gosched()
		c.mu.Lock()
		buf := c.pending
		c.pending = c.spare[:0]
		c.writing = len(buf) > 0
		closed := c.closed
		c.mu.Unlock()

		if len(buf) > 0 {
			if c.timeout > 0 {
				c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
			}
			if _, err := c.nc.Write(buf); err != nil {
				c.fail(fmt.Errorf("write to %s: %w", c.nc.RemoteAddr(), err))
				return
			}
		}

		c.mu.Lock()
		c.writing = false
		if cap(buf) <= 1<<20 {
			c.spare = buf[:0] // large buffers go to the collector
		}
		c.mu.Unlock()
		if closed {
			return
		}
	}
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.closed = true
	c.mu.Unlock()
	c.nc.Close()
}

// Err returns the first write error, or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Recv reads the next frame and returns its type and body. The body is valid
// until the next Recv; Decode copies what it keeps.
func (c *Conn) Recv() (Type, []byte, error) {
	// The length is checked before the rest of the header is read, so a
	// peer that declares a huge frame and then stalls is rejected at once.
	var length [4]byte
	if _, err := io.ReadFull(c.r, length[:]); err != nil {
		return 0, nil, err
	}
	size := int64(binary.BigEndian.Uint32(length[:]))
	if size < 1 {
		return 0, nil, fmt.Errorf("invalid frame length 0")
	}
	c.mu.Lock()
	limit := c.maxFrame
	c.mu.Unlock()
	if size > int64(limit) {
		return 0, nil, &FrameTooLargeError{Size: size, Max: int64(limit)}
	}
	typ, err := c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	body, err := c.readBody(int(size - 1))
	if err != nil {
		return 0, nil, err
	}
	return Type(typ), body, nil
}

// FrameBuffered reports whether a whole frame has arrived and waits in the
// read buffer, so that the next Recv returns it without a system call.
func (c *Conn) FrameBuffered() bool {
	if c.r.Buffered() < 4 {
		return false
	}
	length, err := c.r.Peek(4)
	if err != nil {
		return false
	}
	size := int(binary.BigEndian.Uint32(length))
	return size >= 1 && c.r.Buffered() >= 4+size
}

// chunkSize is how much of a frame body Recv reserves ahead of the bytes
// that have arrived. A peer that declares a large frame makes the reader
// hold only what it really sends.
const chunkSize = 64 << 10

// readBody reads n bytes, growing the buffer as the bytes arrive.
func (c *Conn) readBody(n int) ([]byte, error) {
	if n <= cap(c.rbuf) {
		body := c.rbuf[:n]
		_, err := io.ReadFull(c.r, body)
		return body, err
	}
	body := c.rbuf[:0]
	for len(body) < n {
		step := min(n-len(body), max(chunkSize, len(body)))
		body = slices.Grow(body, step)
		got, err := io.ReadFull(c.r, body[len(body):len(body)+step])
		body = body[:len(body)+got]
		if err != nil {
			return nil, err
		}
	}
	if cap(body) <= 1<<20 {
		c.rbuf = body // keep small buffers for the next frame
	}
	return body, nil
}

// SetMaxFrame changes the frame limit for both directions, for example to
// hold a peer to a small limit until its handshake is done.
func (c *Conn) SetMaxFrame(n int) {
	c.mu.Lock()
	c.maxFrame = n
	c.mu.Unlock()
}

// Decode decodes a frame body that Recv returned into v.
func (c *Conn) Decode(body []byte, v any) error {
	switch m := v.(type) {
	case *Assign:
		if decodeAssign(body, m) == nil {
			return nil
		}
	case *Result:
		if decodeResult(body, m) == nil {
			return nil
		}
	}
	c.dec.ResetBytes(body)
	if err := c.dec.Decode(v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// Flush waits until every frame queued before the call is written, or the
// timeout passes. It is used before Close so that a last Reject or Drain
// reaches the peer.
func (c *Conn) Flush(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		empty := (len(c.pending) == 0 && !c.writing) || c.closed
		c.mu.Unlock()
		if empty {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Close closes the network connection and stops the writer. Frames still
// queued are dropped; call Flush first to send them. Close is safe to call
// more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	err := c.nc.Close()
	if !already {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	<-c.done
	if already {
		return nil
	}
	return err
}
