package store

import (
	"fmt"
	"reflect"
	"testing"
)

// testRecord returns a record with every field set and derived from n, so a
// test can rebuild the record it expects from the id alone.
func testRecord(prefix string, n int) *Record {
	return &Record{
		ID:          fmt.Sprintf("%s%06d", prefix, n),
		Seq:         uint64(n) + 1,
		Type:        "exec",
		Payload:     []byte(fmt.Sprintf("payload of %d", n)),
		Key:         fmt.Sprintf("key-%d", n),
		Status:      "queued",
		Attempt:     uint32(n % 3),
		Failures:    uint32(n % 2),
		MaxAttempts: 3,
		Timeout:     int64(n) * 1e9,
		Worker:      "worker-a",
		Output:      []byte{byte(n), 0, 0xff},
		Error:       "exit status 1",
		Created:     1_700_000_000_000_000_000 + int64(n),
		Started:     1_700_000_001_000_000_000 + int64(n),
		Finished:    -int64(n),
		RunAt:       1_700_000_002_000_000_000,
	}
}

func openStore(t testing.TB, dir string, opts Options) *Bolt {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// loadAll opens the store in dir, loads every record and closes it again.
func loadAll(t testing.TB, dir string) []*Record {
	t.Helper()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("reopen %s: %v", dir, err)
	}
	defer s.Close()

	var got []*Record
	if err := s.Load(func(r *Record) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got
}

func byID(records []*Record) map[string]*Record {
	m := make(map[string]*Record, len(records))
	for _, r := range records {
		m[r.ID] = r
	}
	return m
}

func assertRecordEqual(t testing.TB, got, want *Record) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("record %s differs:\n got  %+v\n want %+v", want.ID, got, want)
	}
}

func mustWrite(t testing.TB, s Store, b Batch) {
	t.Helper()
	if err := s.Write(b); err != nil {
		t.Fatalf("Write(%d puts, %d deletes): %v", len(b.Put), len(b.Delete), err)
	}
}
