package store

import (
	"math"
	"testing"
)

func TestRecordQueueRoundTrip(t *testing.T) {
	cases := map[string]*Record{
		"queue and priority": {ID: "q1", Seq: 7, Type: "echo", Status: "scheduled", RunAt: 99,
			Payload: []byte("p"), Output: []byte("o"), Queue: "critical", Priority: 5},
		"negative priority": {ID: "q2", Queue: "low", Priority: -1000},
		"priority only":     {ID: "q3", Priority: math.MaxInt64},
		"queue only":        {ID: "q4", Queue: "default", Payload: []byte("xyz")},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			key, value := encodeOne(t, want)
			if value[0] != recordEncodingPlaced {
				t.Errorf("encoding byte = %d, want %d", value[0], recordEncodingPlaced)
			}
			if n := encodedSize(want); n != len(value) {
				t.Errorf("encodedSize = %d, but the encoding has %d bytes", n, len(value))
			}
			got, err := decodeRecord(key, value)
			if err != nil {
				t.Fatalf("decodeRecord: %v", err)
			}
			assertRecordEqual(t, got, want)
		})
	}
}

func TestRecordWithoutQueueKeepsEncoding1(t *testing.T) {
	_, value := encodeOne(t, &Record{ID: "a", Type: "t"})
	if value[0] != recordEncoding {
		t.Errorf("encoding byte = %d, want %d for a record without queue and priority", value[0], recordEncoding)
	}
}

// TestRecordDecodesEncoding1 decodes bytes in the layout that lbd wrote
// before queues existed.
func TestRecordDecodesEncoding1(t *testing.T) {
	value := []byte{
		1,          // encoding
		5, 2, 1, 3, // Seq, Attempt, Failures, MaxAttempts
		4, 0, 0, 0, 6, // Timeout, Created, Started, Finished, RunAt (zig-zag)
		1, 0, 6, 0, 0, 2, 0, // lengths of Type, Key, Status, Worker, Error, Payload, Output
		't', 'q', 'u', 'e', 'u', 'e', 'd', 'h', 'i',
	}
	got, err := decodeRecord([]byte("old"), value)
	if err != nil {
		t.Fatalf("decodeRecord: %v", err)
	}
	want := &Record{ID: "old", Seq: 5, Attempt: 2, Failures: 1, MaxAttempts: 3, Timeout: 2, RunAt: 3,
		Type: "t", Status: "queued", Payload: []byte("hi")}
	assertRecordEqual(t, got, want)
}

func TestRecordEncoding2Damaged(t *testing.T) {
	_, value := encodeOne(t, &Record{ID: "d", Queue: "critical", Priority: 1})
	cases := map[string][]byte{
		"queue cut":        value[:len(value)-1],
		"queue too long":   append(append([]byte(nil), value...), 'x'),
		"header truncated": value[:2],
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			if r, err := decodeRecord([]byte("d"), v); err == nil {
				t.Errorf("decodeRecord accepted a damaged record and returned %+v", r)
			}
		})
	}
}

func TestRecordUnknownEncoding(t *testing.T) {
	_, err := decodeRecord([]byte("x"), []byte{3, 0})
	if err == nil {
		t.Fatal("decodeRecord accepted encoding 3")
	}
}
