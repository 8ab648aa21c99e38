package store

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func encodeOne(t testing.TB, r *Record) (key, value []byte) {
	t.Helper()
	ops, _ := encodeBatch(Batch{Put: []*Record{r}})
	if len(ops) != 1 {
		t.Fatalf("encodeBatch returned %d ops for one record, want 1", len(ops))
	}
	return ops[0].key, ops[0].value
}

func TestRecordRoundTrip(t *testing.T) {
	cases := map[string]*Record{
		"all fields": testRecord("t", 42),
		"only id":    {ID: "x"},
		"limits": {
			ID: "limits", Seq: math.MaxUint64,
			Attempt: math.MaxUint32, Failures: math.MaxUint32, MaxAttempts: math.MaxUint32,
			Timeout: math.MaxInt64, Created: math.MinInt64, Started: -1, Finished: 1, RunAt: math.MaxInt64,
		},
		"payload only": {ID: "p", Payload: bytes.Repeat([]byte{7}, 100000)},
		"output only":  {ID: "o", Output: []byte{0}},
		"unicode":      {ID: "ü-1", Type: "héllo", Key: "键", Status: "running", Worker: "w", Error: strings.Repeat("é", 300)},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			key, value := encodeOne(t, want)
			if string(key) != want.ID {
				t.Errorf("key = %q, want the id %q", key, want.ID)
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

func TestRecordDecodeCopies(t *testing.T) {
	want := testRecord("t", 1)
	key, value := encodeOne(t, want)
	got, err := decodeRecord(key, value)
	if err != nil {
		t.Fatalf("decodeRecord: %v", err)
	}

	// bbolt reuses the memory of key and value after the transaction.
	clear(key)
	clear(value)
	assertRecordEqual(t, got, testRecord("t", 1))
}

func TestRecordPayloadAppendKeepsOutput(t *testing.T) {
	key, value := encodeOne(t, &Record{ID: "a", Payload: []byte("abc"), Output: []byte("xyz")})
	got, err := decodeRecord(key, value)
	if err != nil {
		t.Fatalf("decodeRecord: %v", err)
	}

	_ = append(got.Payload, "!!!"...)
	if string(got.Output) != "xyz" {
		t.Errorf("Output = %q after an append to Payload, want %q", got.Output, "xyz")
	}
}

func TestRecordDecodeRejectsDamage(t *testing.T) {
	key, value := encodeOne(t, testRecord("t", 300))

	for n := range len(value) {
		if _, err := decodeRecord(key, value[:n]); err == nil {
			t.Errorf("decodeRecord accepted the encoding cut to %d of %d bytes", n, len(value))
		}
	}

	long := append(bytes.Clone(value), 0)
	if _, err := decodeRecord(key, long); err == nil || !strings.Contains(err.Error(), "bytes follow the header") {
		t.Errorf("decodeRecord with a trailing byte: err = %v, want a field size error", err)
	}

	other := bytes.Clone(value)
	other[0] = 9
	if _, err := decodeRecord(key, other); err == nil || !strings.Contains(err.Error(), "unknown record encoding 9") {
		t.Errorf("decodeRecord with encoding byte 9: err = %v, want an unknown encoding error", err)
	}
}

func TestRecordDecodeRejectsWideCounter(t *testing.T) {
	// Encoding byte, Seq 1, then an Attempt of 2^32.
	value := []byte{recordEncoding, 1, 0x80, 0x80, 0x80, 0x80, 0x10}
	_, err := decodeRecord([]byte("a"), value)
	if err == nil || !strings.Contains(err.Error(), "over the 32-bit range") {
		t.Errorf("err = %v, want a 32-bit range error", err)
	}
}

func TestRecordDecodeRejectsLongField(t *testing.T) {
	value := []byte{recordEncoding, 1, 0, 0, 0, 0, 0, 0, 0, 0, 100}
	_, err := decodeRecord([]byte("a"), value)
	if err == nil || !strings.Contains(err.Error(), "field length 100 past the end") {
		t.Errorf("err = %v, want a field length error", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	_, value := encodeOne(f, testRecord("f", 7))
	f.Add(value)
	f.Add([]byte{})
	f.Add([]byte{recordEncoding})

	f.Fuzz(func(t *testing.T, value []byte) {
		r, err := decodeRecord([]byte("id"), value)
		if err != nil {
			return
		}

		key, again := encodeOne(t, r)
		back, err := decodeRecord(key, again)
		if err != nil {
			t.Fatalf("decodeRecord of a re-encoded record: %v", err)
		}
		assertRecordEqual(t, back, r)
	})
}
