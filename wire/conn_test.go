package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

func pipe(t *testing.T, maxFrame int) (*Conn, *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	a, b := NewConn(client, maxFrame, time.Second), NewConn(server, maxFrame, time.Second)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestSendRecvRoundTrip(t *testing.T) {
	a, b := pipe(t, DefaultMaxFrame)
	sent := Assign{TaskID: "t1", Attempt: 3, Type: "echo", Payload: []byte{0, 1, 2, 255}, Timeout: int64(time.Minute)}
	for i := 0; i < 100; i++ {
		if err := a.Send(TypeAssign, &sent); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		typ, body, err := b.Recv()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if typ != TypeAssign {
			t.Fatalf("frame %d type = %s, want assign", i, typ)
		}
		var got Assign
		if err := b.Decode(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.TaskID != sent.TaskID || got.Attempt != sent.Attempt || !bytes.Equal(got.Payload, sent.Payload) || got.Timeout != sent.Timeout {
			t.Fatalf("frame %d = %+v, want %+v", i, got, sent)
		}
	}
}

func TestSendRejectsOversizedFrame(t *testing.T) {
	a, _ := pipe(t, 1024)
	err := a.Send(TypeAssign, &Assign{Payload: make([]byte, 2048)})
	var tooLarge *FrameTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Max != 1024 {
		t.Fatalf("Send of a 2 KiB frame with a 1 KiB limit: err = %v, want FrameTooLargeError", err)
	}
}

func TestRecvChecksLengthBeforeRest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(binary.BigEndian.AppendUint32(nil, 0xffffffff)) // then stall
		time.Sleep(5 * time.Second)
	}()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(nc, DefaultMaxFrame, time.Second)
	defer conn.Close()

	start := time.Now()
	_, _, err = conn.Recv()
	var tooLarge *FrameTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Size != 0xffffffff {
		t.Fatalf("Recv err = %v, want a FrameTooLargeError of 4294967295 bytes", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Recv took %s; it must not wait for the rest of a frame it rejects", d)
	}
}

func TestReadPreamble(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		fail bool
	}{
		"valid":        {[]byte{'L', 'B', 'D', ProtocolVersion}, false},
		"foreign":      {[]byte{0xdb, 0xff, 0xff, 0xff}, true},
		"old version":  {[]byte{'L', 'B', 'D', ProtocolVersion + 1}, true},
		"short stream": {[]byte{'L', 'B'}, true},
	}
	for name, c := range cases {
		err := ReadPreamble(bytes.NewReader(c.in))
		if (err != nil) != c.fail {
			t.Errorf("%s: err = %v, want failure %v", name, err, c.fail)
		}
		if errors.Is(err, ErrPeerSpeaksTLS) {
			t.Errorf("%s: err = %v, which claims the peer speaks TLS", name, err)
		}
	}

	// A TLS 1.x ClientHello record header.
	err := ReadPreamble(bytes.NewReader([]byte{TLSRecordHandshake, 0x03, 0x01, 0x02, 0x00}))
	if !errors.Is(err, ErrPeerSpeaksTLS) {
		t.Errorf("ClientHello: err = %v, want ErrPeerSpeaksTLS", err)
	}
}

func TestMetaRoundTripAndForeign(t *testing.T) {
	m := Meta{Role: RoleWorker, Version: "v1", Slots: 8, Types: []string{"echo"}}
	b, err := EncodeMeta(m, MaxMetaSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
	if err != nil || got.Role != m.Role || got.Slots != 8 || len(got.Types) != 1 {
		t.Fatalf("DecodeMeta = %+v, %v; want %+v", got, err, m)
	}
	if _, err := DecodeMeta([]byte(`{"role":"worker"}`)); err == nil {
		t.Error("foreign metadata decoded as lbd metadata")
	}
	many := Meta{Role: RoleWorker, Types: make([]string, 200)}
	for i := range many.Types {
		many.Types[i] = "type-with-a-long-name"
	}
	if _, err := EncodeMeta(many, MaxMetaSize); err == nil {
		t.Error("metadata over memberlist's limit encoded without error")
	}
}

// FuzzRecv feeds arbitrary bytes to a connection's frame reader and every
// message decoder. Nothing may panic or allocate past the frame limit.
func FuzzRecv(f *testing.F) {
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add(binary.BigEndian.AppendUint32(nil, 0xffffffff))
	f.Add(append(binary.BigEndian.AppendUint32(nil, 6), byte(TypeAssign), 0x95, 0xa1, 'x', 0x01, 0xa0))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		conn := NewConn(server, 1<<16, time.Second)
		defer conn.Close()
		go func() {
			client.Write(data)
			client.Close()
		}()
		for {
			typ, body, err := conn.Recv()
			if err != nil {
				return
			}
			var msgs = []any{&Hello{}, &Welcome{}, &Reject{}, &Assign{}, &Result{}, &Cancel{}, &Heartbeat{}, &Drain{}, &Slots{}}
			if int(typ) >= 1 && int(typ) <= len(msgs) {
				conn.Decode(body, msgs[typ-1])
			}
		}
	})
}

func TestRecvReservesOnlyWhatArrives(t *testing.T) {
	client, server := net.Pipe()
	conn := NewConn(server, 64<<20, time.Second)
	defer conn.Close()
	go func() {
		client.Write(binary.BigEndian.AppendUint32(nil, 64<<20-1))
		client.Write([]byte{byte(TypeHello)})
		client.Write(make([]byte, 100))
		client.Close()
	}()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := conn.Recv()
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("Recv of a truncated frame succeeded")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("Recv allocated %d bytes for a frame that delivered 100, want under 1 MiB", grew)
	}
}

func TestFrameBufferedOnlyForWholeFrames(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	c := NewConn(server, DefaultMaxFrame, time.Second)
	defer c.Close()

	frame := func(body string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
		b = append(b, byte(TypeHeartbeat))
		return append(b, body...)
	}
	// Two whole frames and the first 3 bytes of a third arrive in one write.
	data := append(append(frame("a"), frame("bb")...), frame("ccc")[:3]...)
	go client.Write(data)

	if _, body, err := c.Recv(); err != nil || string(body) != "a" {
		t.Fatalf("first Recv = %q, %v; want \"a\"", body, err)
	}
	if !c.FrameBuffered() {
		t.Error("FrameBuffered = false with the second frame in the buffer, want true")
	}
	if _, body, err := c.Recv(); err != nil || string(body) != "bb" {
		t.Fatalf("second Recv = %q, %v; want \"bb\"", body, err)
	}
	if c.FrameBuffered() {
		t.Error("FrameBuffered = true with 3 bytes of a frame buffered, want false")
	}
}
