package wire

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// frameBytes encodes v as one frame of type t for fuzz seeds.
func frameBytes(t Type, v any) []byte {
	body, err := Marshal(v)
	if err != nil {
		panic(err)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
	b = append(b, byte(t))
	return append(b, body...)
}

// FuzzHandshake plays the master's side of an authenticated handshake
// against arbitrary bytes: preamble, Hello, then Auth for a fresh nonce.
// Nothing may panic, and no input may pass VerifyAuth without the key.
func FuzzHandshake(f *testing.F) {
	key := bytes.Repeat([]byte{0x42}, 32)
	hello := frameBytes(TypeHello, &Hello{Node: "w1", Slots: 1, Types: []string{"echo"}})
	f.Add(append(append(preamble[:], hello...), frameBytes(TypeAuth, &Auth{MAC: make([]byte, 32)})...))
	f.Add(append(append(preamble[:], hello...), frameBytes(TypeHeartbeat, &Heartbeat{})...))
	f.Add(append(preamble[:], frameBytes(TypeAuth, &Auth{})...))
	f.Add([]byte("LBD"))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			client.Write(data)
			client.Close()
		}()
		server.SetDeadline(time.Now().Add(2 * time.Second))
		if ReadPreamble(server) != nil {
			server.Close()
			return
		}
		conn := NewConn(server, 1<<16, time.Second)
		defer conn.Close()

		typ, body, err := conn.Recv()
		if err != nil || typ != TypeHello {
			return
		}
		var h Hello
		if conn.Decode(body, &h) != nil {
			return
		}
		nonce, err := NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		typ, body, err = conn.Recv()
		if err != nil || typ != TypeAuth {
			return
		}
		var auth Auth
		if conn.Decode(body, &auth) != nil {
			return
		}
		if VerifyAuth([][]byte{key}, nonce, h.Node, nil, auth.MAC) {
			t.Fatalf("an Auth of %d bytes verified without the key", len(auth.MAC))
		}
		if VerifyAuth([][]byte{key}, nonce, h.Node, nonce, auth.MAC) {
			t.Fatalf("an Auth of %d bytes verified on a TLS session without the key", len(auth.MAC))
		}
	})
}
