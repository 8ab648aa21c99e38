package wire

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestFastCodecMatchesGoMsgpack(t *testing.T) {
	assigns := []Assign{
		{},
		{TaskID: "1hrgq1mcmsl64", Attempt: 3, Type: "echo", Payload: []byte("hi"), Timeout: 600e9},
		{TaskID: strings.Repeat("i", 300), Attempt: math.MaxUint32, Type: strings.Repeat("t", 40), Payload: bytes.Repeat([]byte{0xff}, 70000), Timeout: -1},
	}
	for i, a := range assigns {
		fast := appendAssign(nil, &a)
		var viaCodec Assign
		if err := Unmarshal(fast, &viaCodec); err != nil {
			t.Fatalf("assign %d: go-msgpack cannot read the fast encoding: %v", i, err)
		}
		slow, err := Marshal(&a)
		if err != nil {
			t.Fatal(err)
		}
		var viaFast Assign
		if err := decodeAssign(slow, &viaFast); err != nil {
			t.Fatalf("assign %d: fast decoder cannot read go-msgpack's encoding: %v", i, err)
		}
		for _, got := range []Assign{viaCodec, viaFast} {
			if got.TaskID != a.TaskID || got.Attempt != a.Attempt || got.Type != a.Type ||
				!bytes.Equal(got.Payload, a.Payload) || got.Timeout != a.Timeout {
				t.Errorf("assign %d round trip = %+v, want %+v", i, got, a)
			}
		}
	}

	results := []Result{
		{},
		{TaskID: "x", Attempt: 1, OK: true, Output: []byte("out"), Duration: 12345},
		{TaskID: "y", Attempt: 200, Error: strings.Repeat("e", 2048), Duration: -40, HandedBack: true},
	}
	for i, r := range results {
		var viaCodec Result
		if err := Unmarshal(appendResult(nil, &r), &viaCodec); err != nil {
			t.Fatalf("result %d: go-msgpack cannot read the fast encoding: %v", i, err)
		}
		slow, _ := Marshal(&r)
		var viaFast Result
		if err := decodeResult(slow, &viaFast); err != nil {
			t.Fatalf("result %d: fast decoder cannot read go-msgpack's encoding: %v", i, err)
		}
		for _, got := range []Result{viaCodec, viaFast} {
			if !reflect.DeepEqual(normalize(got), normalize(r)) {
				t.Errorf("result %d round trip = %+v, want %+v", i, got, r)
			}
		}
	}
}

// normalize treats a nil and an empty output alike.
func normalize(r Result) Result {
	if len(r.Output) == 0 {
		r.Output = nil
	}
	return r
}

func TestFastDecodeRejectsOtherLayouts(t *testing.T) {
	longer, _ := Marshal(&Hello{Node: "n"}) // 7 fields, other types
	cases := map[string][]byte{
		"empty":          {},
		"truncated":      appendAssign(nil, &Assign{TaskID: "abc", Payload: []byte("payload")})[:6],
		"other struct":   longer,
		"huge string":    {0x95, 0xdb, 0xff, 0xff, 0xff, 0xff},
		"trailing bytes": append(appendAssign(nil, &Assign{}), 0x00),
	}
	for name, b := range cases {
		var a Assign
		if err := decodeAssign(b, &a); err == nil {
			t.Errorf("%s: decodeAssign accepted % x", name, b)
		}
	}
}

// The Fast benchmarks measure the codec that Conn uses for Assign and
// Result; the benchmarks without Fast measure go-msgpack's, for comparison.

func BenchmarkFastEncodeAssign(b *testing.B) {
	v := benchAssign()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendAssign(buf[:0], &v)
	}
}

func BenchmarkFastDecodeAssign(b *testing.B) {
	v := benchAssign()
	raw := appendAssign(nil, &v)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var got Assign
		if err := decodeAssign(raw, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFastEncodeResult(b *testing.B) {
	v := benchResult()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendResult(buf[:0], &v)
	}
}

func BenchmarkFastDecodeResult(b *testing.B) {
	v := benchResult()
	raw := appendResult(nil, &v)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var got Result
		if err := decodeResult(raw, &got); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzFastDecode checks the fast decoders against go-msgpack: whatever the
// fast decoder accepts, go-msgpack reads the same way.
func FuzzFastDecode(f *testing.F) {
	a := benchAssign()
	r := benchResult()
	f.Add(appendAssign(nil, &a))
	f.Add(appendResult(nil, &r))
	f.Add([]byte{0x95, 0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var fastA, slowA Assign
		if decodeAssign(data, &fastA) == nil {
			if err := Unmarshal(data, &slowA); err != nil {
				t.Fatalf("fast decoder accepted % x, go-msgpack failed: %v", data, err)
			}
			if fastA.TaskID != slowA.TaskID || fastA.Attempt != slowA.Attempt || fastA.Type != slowA.Type ||
				!bytes.Equal(fastA.Payload, slowA.Payload) || fastA.Timeout != slowA.Timeout {
				t.Fatalf("decoders disagree on % x: fast %+v, go-msgpack %+v", data, fastA, slowA)
			}
		}
		var fastR, slowR Result
		if decodeResult(data, &fastR) == nil {
			if err := Unmarshal(data, &slowR); err != nil {
				t.Fatalf("fast decoder accepted % x, go-msgpack failed: %v", data, err)
			}
			if !reflect.DeepEqual(normalize(fastR), normalize(slowR)) {
				t.Fatalf("decoders disagree on % x: fast %+v, go-msgpack %+v", data, fastR, slowR)
			}
		}
	})
}
