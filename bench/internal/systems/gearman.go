package systems

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lbd-dev/lbd/bench/internal/proc"
)

// The Go module proxy serves no Gearman client module, so this file speaks
// the Gearman binary protocol itself, as described at gearman.org/protocol:
// a packet is a 4-byte magic ("\0REQ" or "\0RES"), a big-endian uint32
// packet type, a big-endian uint32 data size and the data, whose arguments
// are separated by NUL bytes.
const (
	gearCanDo        = 1
	gearPreSleep     = 4
	gearNoop         = 6
	gearSubmitJob    = 7
	gearJobCreated   = 8
	gearGrabJob      = 9
	gearNoJob        = 10
	gearJobAssign    = 11
	gearWorkComplete = 13
	gearWorkFail     = 14
	gearError        = 19
)

var (
	gearReq = [4]byte{0, 'R', 'E', 'Q'}
	gearRes = [4]byte{0, 'R', 'E', 'S'}
)

// gearFunction is the function name the bench's workers register.
const gearFunction = "echo"

func appendGearPacket(b []byte, typ uint32, args ...[]byte) []byte {
	size := max(len(args)-1, 0) // NUL separators
	for _, a := range args {
		size += len(a)
	}
	b = append(b, gearReq[:]...)
	b = binary.BigEndian.AppendUint32(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	for i, a := range args {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, a...)
	}
	return b
}

// readGearPacket reads one response packet into buf and returns its type
// and data, which alias buf.
func readGearPacket(r *bufio.Reader, buf []byte) (uint32, []byte, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	if !bytes.Equal(hdr[:4], gearRes[:]) {
		return 0, nil, fmt.Errorf("gearman: invalid response magic %q", hdr[:4])
	}
	typ := binary.BigEndian.Uint32(hdr[4:8])
	size := binary.BigEndian.Uint32(hdr[8:12])
	if size > 64<<20 {
		return 0, nil, fmt.Errorf("gearman: packet of %d bytes is over the 64 MiB limit", size)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	data := buf[:size]
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, err
	}
	if typ == gearError {
		return typ, data, fmt.Errorf("gearman: server error %q", bytes.ReplaceAll(data, []byte{0}, []byte(": ")))
	}
	return typ, data, nil
}

// Gearman is a gearmand process; it keeps jobs in memory only.
type Gearman struct {
	opts   Options
	p      *proc.Proc
	addr   string
	mu     sync.Mutex
	conns  []net.Conn
	failed chan error // first worker or client read error
}

// StartGearman is the Factory of gearmand. It rejects Durable: gearmand's
// persistent queues are databases without an fsync-per-job mode.
func StartGearman(ctx context.Context, opts Options) (System, error) {
	if opts.Durable {
		return nil, errors.New("gearmand has no durable mode with fsync; run it with the memory table only")
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	g := &Gearman{opts: opts, addr: "127.0.0.1:" + strconv.Itoa(port), failed: make(chan error, 1)}
	g.p, err = proc.Start(ctx, "gearmand", "gearmand", nil, "--listen", "127.0.0.1", "--port", strconv.Itoa(port),
		"--log-file", "none", "--pid-file", "", "--verbose", "ERROR")
	if err != nil {
		return nil, err
	}
	if err := proc.WaitListening(g.p, g.addr, 15*time.Second); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// GearmanVersion returns the first line of gearmand --version.
func GearmanVersion() string { return commandVersion("gearmand", "--version") }

func commandVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// Name returns "gearmand memory".
func (g *Gearman) Name() string { return "gearmand memory" }

func (g *Gearman) dial() (net.Conn, error) {
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		return nil, fmt.Errorf("dial gearmand at %s: %w", g.addr, err)
	}
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	return c, nil
}

func (g *Gearman) fail(err error) {
	select {
	case g.failed <- err:
	default:
	}
}

// StartWorkers opens one worker connection per slot: a Gearman worker
// connection runs one job at a time.
func (g *Gearman) StartWorkers(ctx context.Context, workers, slots int) error {
	for range workers * slots {
		c, err := g.dial()
		if err != nil {
			return err
		}
		if _, err := c.Write(appendGearPacket(nil, gearCanDo, []byte(gearFunction))); err != nil {
			return fmt.Errorf("gearman CAN_DO: %w", err)
		}
		go g.work(c)
	}
	return nil
}

// work grabs jobs until the connection closes, sleeping (PRE_SLEEP until
// NOOP) while none is queued.
func (g *Gearman) work(c net.Conn) {
	r := bufio.NewReader(c)
	grab := appendGearPacket(nil, gearGrabJob)
	sleep := appendGearPacket(nil, gearPreSleep)
	var buf, out []byte
	for {
		if _, err := c.Write(grab); err != nil {
			return
		}
		typ, data, err := readGearPacket(r, buf)
		if err != nil {
			if !isClosed(err) {
				g.fail(err)
			}
			return
		}
		buf = data[:0]
		switch typ {
		case gearNoJob:
			if _, err := c.Write(sleep); err != nil {
				return
			}
			if err := waitGearNoop(r); err != nil {
				return
			}
		case gearJobAssign:
			parts := bytes.SplitN(data, []byte{0}, 3)
			if len(parts) != 3 {
				g.fail(fmt.Errorf("gearman: JOB_ASSIGN with %d arguments, expected 3", len(parts)))
				return
			}
			if i, err := PayloadIndex(parts[2]); err == nil {
				g.opts.Rec.Started(i, time.Now())
			}
			out = appendGearPacket(out[:0], gearWorkComplete, parts[0], parts[2])
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func waitGearNoop(r *bufio.Reader) error {
	for {
		typ, _, err := readGearPacket(r, nil)
		if err != nil {
			return err
		}
		if typ == gearNoop {
			return nil
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}

// NewSubmitter opens a client connection. Submit pipelines SUBMIT_JOB
// packets, and a reader records each WORK_COMPLETE as a finished job.
func (g *Gearman) NewSubmitter(context.Context) (Submitter, error) {
	c, err := g.dial()
	if err != nil {
		return nil, err
	}
	s := &gearSubmitter{g: g, c: c, created: make(chan struct{}, 1<<16)}
	go s.read()
	return s, nil
}

type gearSubmitter struct {
	g       *Gearman
	c       net.Conn
	created chan struct{}
	buf     []byte
}

func (s *gearSubmitter) read() {
	r := bufio.NewReaderSize(s.c, 64<<10)
	var buf []byte
	for {
		typ, data, err := readGearPacket(r, buf)
		if err != nil {
			if !isClosed(err) {
				s.g.fail(err)
			}
			return
		}
		buf = data[:0]
		switch typ {
		case gearJobCreated:
			s.created <- struct{}{}
		case gearWorkComplete:
			_, out, _ := bytes.Cut(data, []byte{0})
			i, err := PayloadIndex(out)
			if err != nil {
				s.g.fail(err)
				return
			}
			s.g.opts.Rec.Finished(i, time.Now())
		case gearWorkFail:
			s.g.fail(fmt.Errorf("gearman: WORK_FAIL for job %q", data))
		}
	}
}

func (s *gearSubmitter) Submit(ctx context.Context, first, count int) error {
	s.buf = s.buf[:0]
	var payload []byte
	for i := first; i < first+count; i++ {
		payload = AppendPayload(payload[:0], i)
		s.buf = appendGearPacket(s.buf, gearSubmitJob, []byte(gearFunction), nil, payload)
	}
	if _, err := s.c.Write(s.buf); err != nil {
		return fmt.Errorf("gearman SUBMIT_JOB: %w", err)
	}
	for range count {
		select {
		case <-s.created:
		case err := <-s.g.failed:
			return err
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

func (s *gearSubmitter) Close() error { return s.c.Close() }

// WaitDone waits until the submitters' readers counted n WORK_COMPLETE
// packets.
func (g *Gearman) WaitDone(ctx context.Context, n int) error {
	return waitCount(ctx, n, func() (int, error) {
		select {
		case err := <-g.failed:
			return 0, err
		default:
		}
		return g.opts.Rec.FinishedCount(), nil
	})
}

// Close closes every connection and stops gearmand.
func (g *Gearman) Close() {
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	if g.p != nil {
		g.p.Stop(5 * time.Second)
	}
}
