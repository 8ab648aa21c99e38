package store

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

func loadQueues(t *testing.T, s Store) []QueueState {
	t.Helper()
	qs, err := s.LoadQueues()
	if err != nil {
		t.Fatalf("LoadQueues: %v", err)
	}
	return qs
}

func TestQueueStatesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	if qs := loadQueues(t, s); len(qs) != 0 {
		t.Fatalf("new store has queue states %v, want none", qs)
	}
	mustWrite(t, s, Batch{Queues: []QueueState{{Name: "low", Paused: true}, {Name: "bulk", Paused: true}}})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("t", 1)}, Queues: []QueueState{{Name: "low"}, {Name: "critical", Paused: true}}})
	mustWrite(t, s, Batch{Queues: []QueueState{{Name: "critical", Paused: true}, {Name: "never-paused"}}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openStore(t, dir, Options{NoSync: true})
	want := []QueueState{{Name: "bulk", Paused: true}, {Name: "critical", Paused: true}}
	if got := loadQueues(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("queue states after reopen = %v, want %v", got, want)
	}
	if err := s.Load(func(r *Record) error { assertRecordEqual(t, r, testRecord("t", 1)); return nil }); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

// writeStoreWithoutQueues writes a store file in the layout that lbd wrote
// before queue states existed: format version 1, a meta and a tasks bucket,
// and one task record of encoding 1.
func writeStoreWithoutQueues(t *testing.T, dir string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("format_version"), []byte("1")); err != nil {
			return err
		}
		tasks, err := tx.CreateBucket([]byte("tasks"))
		if err != nil {
			return err
		}
		// The record of TestRecordDecodesEncoding1.
		return tasks.Put([]byte("old"), []byte{1, 5, 2, 1, 3, 4, 0, 0, 0, 6, 1, 0, 6, 0, 0, 2, 0,
			't', 'q', 'u', 'e', 'u', 'e', 'd', 'h', 'i'})
	})
	if err != nil {
		t.Fatalf("write store without queue states: %v", err)
	}
}

func TestStoreWithoutQueuesBucket(t *testing.T) {
	dir := t.TempDir()
	writeStoreWithoutQueues(t, dir)
	wantTask := &Record{ID: "old", Seq: 5, Attempt: 2, Failures: 1, MaxAttempts: 3, Timeout: 2, RunAt: 3,
		Type: "t", Status: "queued", Payload: []byte("hi")}

	s := openStore(t, dir, Options{NoSync: true})
	if qs := loadQueues(t, s); len(qs) != 0 {
		t.Errorf("store without a queues bucket has queue states %v, want none", qs)
	}
	mustWrite(t, s, Batch{Queues: []QueueState{{Name: "low", Paused: true}}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got := loadAll(t, dir)
	if len(got) != 1 {
		t.Fatalf("Load returned %d records, want the 1 old one", len(got))
	}
	assertRecordEqual(t, got[0], wantTask)
	s = openStore(t, dir, Options{NoSync: true})
	if got, want := loadQueues(t, s), []QueueState{{Name: "low", Paused: true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("queue states = %v, want %v", got, want)
	}
	s.Close()

	// An lbd that predates queue states checks only the version and the
	// tasks bucket, so it still opens the file.
	editBolt(t, dir, func(tx *bbolt.Tx) error {
		if v := string(tx.Bucket(metaBucket).Get(formatKey)); v != "1" {
			t.Errorf("format version after storing a queue state = %q, want 1", v)
		}
		return nil
	})
}

func TestQueueStateDamaged(t *testing.T) {
	cases := map[string]struct {
		value []byte
		want  string
	}{
		"empty":          {[]byte{}, "invalid queue state: empty value"},
		"newer encoding": {[]byte{2, 1}, "unknown queue state encoding 2: this lbd reads encoding 1"},
		"cut":            {[]byte{1}, "invalid queue state: 1 bytes, want 2"},
		"unknown flag":   {[]byte{1, 3}, "invalid queue state: flags 0x3, want 0x1 (paused)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := createStore(t)
			editBolt(t, dir, func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(queuesBucket)
				if err != nil {
					return err
				}
				return b.Put([]byte("low"), c.value)
			})
			s := openStore(t, dir, Options{NoSync: true})
			qs, err := s.LoadQueues()
			if err == nil {
				t.Fatalf("LoadQueues accepted a damaged queue state and returned %v", qs)
			}
			for _, want := range []string{c.want, `queue "low"`, filepath.Join(dir, FileName), "move the data directory away"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("LoadQueues: err = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadQueuesAfterClose(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	s.Close()
	if _, err := s.LoadQueues(); err != ErrClosed {
		t.Errorf("Bolt.LoadQueues after Close: err = %v, want ErrClosed", err)
	}
	m := NewMemory()
	m.Close()
	if _, err := m.LoadQueues(); err != ErrClosed {
		t.Errorf("Memory.LoadQueues after Close: err = %v, want ErrClosed", err)
	}
}

func TestMemoryStoreKeepsNoQueueState(t *testing.T) {
	m := NewMemory()
	mustWrite(t, m, Batch{Queues: []QueueState{{Name: "low", Paused: true}}})
	if qs := loadQueues(t, m); len(qs) != 0 {
		t.Errorf("Memory.LoadQueues = %v, want nothing", qs)
	}
}
