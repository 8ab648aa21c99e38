package wire

import (
	"encoding/binary"
	"errors"
	"math"
)

// Assign and Result are the frames of every task, so they have a
// hand-written msgpack codec: go-msgpack's reflection costs about 700 ns
// and 4 allocations per frame. The bytes are the same msgpack arrays that
// go-msgpack writes for the toarray structs, so either side may use
// either codec. A frame whose array length differs from this version's
// field count (a newer peer appended fields) goes to go-msgpack.

const (
	assignFields = 5
	resultFields = 7
)

var errFastDecode = errors.New("frame not in the fast codec's layout")

func appendArrayHeader(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x90|byte(n))
	}
	return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
}

func appendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, 0xc0)
	}
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 0x7f:
		return append(b, byte(v))
	case v < 0 && v >= -32:
		return append(b, byte(v))
	case v >= 0 && v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// appendAssign appends a's msgpack encoding to b.
func appendAssign(b []byte, a *Assign) []byte {
	b = appendArrayHeader(b, assignFields)
	b = appendString(b, a.TaskID)
	b = appendInt(b, int64(a.Attempt))
	b = appendString(b, a.Type)
	b = appendBytes(b, a.Payload)
	return appendInt(b, a.Timeout)
}

// appendResult appends r's msgpack encoding to b.
func appendResult(b []byte, r *Result) []byte {
	b = appendArrayHeader(b, resultFields)
	b = appendString(b, r.TaskID)
	b = appendInt(b, int64(r.Attempt))
	b = appendBool(b, r.OK)
	b = appendBytes(b, r.Output)
	b = appendString(b, r.Error)
	b = appendInt(b, r.Duration)
	return appendBool(b, r.HandedBack)
}

// reader reads msgpack values from a frame body. The first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errFastDecode
	}
}

func (r *reader) next(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	p := r.next(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) length(c byte, small, b8, b16, b32 byte, smallMask byte) (int, bool) {
	switch {
	case small != 0 && c&^smallMask == small:
		return int(c & smallMask), true
	case c == b8 && b8 != 0:
		return int(r.byte()), true
	case c == b16:
		p := r.next(2)
		if p == nil {
			return 0, false
		}
		return int(binary.BigEndian.Uint16(p)), true
	case c == b32:
		p := r.next(4)
		if p == nil {
			return 0, false
		}
		return int(binary.BigEndian.Uint32(p)), true
	}
	return 0, false
}

func (r *reader) arrayLen() int {
	n, ok := r.length(r.byte(), 0x90, 0, 0xdc, 0xdd, 0x0f)
	if !ok {
		r.fail()
	}
	return n
}

func (r *reader) raw() []byte {
	c := r.byte()
	if c == 0xc0 {
		return nil
	}
	n, ok := r.length(c, 0xa0, 0xd9, 0xda, 0xdb, 0x1f) // str
	if !ok {
		n, ok = r.length(c, 0, 0xc4, 0xc5, 0xc6, 0) // bin
	}
	if !ok {
		r.fail()
		return nil
	}
	return r.next(n)
}

func (r *reader) string() string { return string(r.raw()) }

func (r *reader) bytes() []byte {
	p := r.raw()
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func (r *reader) int() int64 {
	c := r.byte()
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		r.fail()
		return 0
	}
	signed := c >= 0xd0

	p := r.next(size)
	if p == nil {
		return 0
	}
	var u uint64
	for _, x := range p {
		u = u<<8 | uint64(x)
	}
	if signed && size < 8 && p[0]&0x80 != 0 {
		u |= ^uint64(0) << (8 * size) // sign-extend
	}
	return int64(u)
}

func (r *reader) uint32() uint32 {
	v := r.int()
	if v < 0 || v > math.MaxUint32 {
		r.fail()
	}
	return uint32(v)
}

func (r *reader) bool() bool {
	switch r.byte() {
	case 0xc3:
		return true
	case 0xc2:
		return false
	}
	r.fail()
	return false
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errFastDecode
	}
	return r.err
}

// decodeAssign decodes a frame body that appendAssign or go-msgpack wrote.
func decodeAssign(b []byte, a *Assign) error {
	r := reader{b: b}
	if r.arrayLen() != assignFields {
		return errFastDecode
	}
	*a = Assign{}
	a.TaskID = r.string()
	a.Attempt = r.uint32()
	a.Type = r.string()
	a.Payload = r.bytes()
	a.Timeout = r.int()
	return r.done()
}

// decodeResult decodes a frame body that appendResult or go-msgpack wrote.
func decodeResult(b []byte, res *Result) error {
	r := reader{b: b}
	if r.arrayLen() != resultFields {
		return errFastDecode
	}
	*res = Result{}
	res.TaskID = r.string()
	res.Attempt = r.uint32()
	res.OK = r.bool()
	res.Output = r.bytes()
	res.Error = r.string()
	res.Duration = r.int()
	res.HandedBack = r.bool()
	return r.done()
}
