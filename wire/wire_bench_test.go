package wire

import (
	"bytes"
	"testing"
)

// benchAssign is an Assign of a no-op task with a 100-byte payload.
func benchAssign() Assign {
	return Assign{
		TaskID:  "0000018c2f3a4b5c6d7e8f90",
		Attempt: 1,
		Type:    "echo",
		Payload: bytes.Repeat([]byte("p"), 100),
		Timeout: 600e9,
	}
}

// benchResult is the Result of benchAssign's task with its payload echoed.
func benchResult() Result {
	return Result{
		TaskID:   "0000018c2f3a4b5c6d7e8f90",
		Attempt:  1,
		OK:       true,
		Output:   bytes.Repeat([]byte("p"), 100),
		Duration: 12_000,
	}
}

func BenchmarkEncodeAssign(b *testing.B) {
	v := benchAssign()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(&v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAssign(b *testing.B) {
	v := benchAssign()
	raw, err := Marshal(&v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var got Assign
		if err := Unmarshal(raw, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResult(b *testing.B) {
	v := benchResult()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(&v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResult(b *testing.B) {
	v := benchResult()
	raw, err := Marshal(&v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var got Result
		if err := Unmarshal(raw, &got); err != nil {
			b.Fatal(err)
		}
	}
}
