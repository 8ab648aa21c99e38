package store

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// editBolt changes the store file in dir with bbolt directly.
func editBolt(t *testing.T, dir string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("edit store file: %v", err)
	}
}

func createStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1)}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return dir
}

// assertOpenFails checks that Open fails with want in the message and leaves
// the file unchanged.
func assertOpenFails(t *testing.T, dir, want string) {
	t.Helper()
	path := filepath.Join(dir, FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}

	s, err := Open(dir, Options{})
	if err == nil {
		s.Close()
		t.Fatalf("Open accepted the file, want an error containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Open: err = %q, want it to contain %q", err, want)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open: err = %q, want it to name the path %s", err, path)
	}

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("Open changed the rejected file %s", path)
	}
}

func TestOpenRejectsUnknownVersion(t *testing.T) {
	dir := createStore(t)
	editBolt(t, dir, func(tx *bbolt.Tx) error {
		return tx.Bucket(metaBucket).Put(formatKey, []byte("2"))
	})

	want := "store " + filepath.Join(dir, FileName) +
		" has format version 2; this lbd reads version 1: upgrade lbd or move the data directory away"
	assertOpenFails(t, dir, want)
}

func TestOpenRejectsDamagedMeta(t *testing.T) {
	cases := map[string]struct {
		edit func(tx *bbolt.Tx) error
		want string
	}{
		"invalid version": {
			func(tx *bbolt.Tx) error { return tx.Bucket(metaBucket).Put(formatKey, []byte("one")) },
			`has an invalid format version "one"`,
		},
		"missing version": {
			func(tx *bbolt.Tx) error { return tx.Bucket(metaBucket).Delete(formatKey) },
			"has no format version in its meta bucket",
		},
		"missing tasks bucket": {
			func(tx *bbolt.Tx) error { return tx.DeleteBucket(tasksBucket) },
			"has format version 1 but no tasks bucket",
		},
		"other program": {
			func(tx *bbolt.Tx) error {
				if err := tx.DeleteBucket(tasksBucket); err != nil {
					return err
				}
				if err := tx.DeleteBucket(metaBucket); err != nil {
					return err
				}
				_, err := tx.CreateBucket([]byte("users"))
				return err
			},
			`contains bucket "users" but no lbd format version: it is not an lbd task store`,
		},
	}

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := createStore(t)
			editBolt(t, dir, c.edit)
			assertOpenFails(t, dir, c.want)
		})
	}
}

func TestOpenRejectsGarbage(t *testing.T) {
	for _, size := range []int{1, 100, 4096, 5000, 100000} {
		dir := t.TempDir()
		garbage := make([]byte, size)
		rand.Read(garbage)
		if err := os.WriteFile(filepath.Join(dir, FileName), garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		assertOpenFails(t, dir, "the file is not a bbolt database or is damaged")
	}

	dir := t.TempDir()
	text := bytes.Repeat([]byte("not a database\n"), 1000)
	if err := os.WriteFile(filepath.Join(dir, FileName), text, 0o600); err != nil {
		t.Fatal(err)
	}
	assertOpenFails(t, dir, "the file is not a bbolt database or is damaged: invalid database")
}

func TestOpenLockedFailsFast(t *testing.T) {
	dir := t.TempDir()
	first := openStore(t, dir, Options{NoSync: true})

	start := time.Now()
	second, err := Open(dir, Options{NoSync: true})
	took := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("second Open on the same directory succeeded, want a lock error")
	}
	want := "open store " + filepath.Join(dir, FileName) + ": another lbd master uses the data directory " + dir
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("second Open: err = %q, want it to start with %q", err, want)
	}
	if took > 3*time.Second {
		t.Errorf("second Open took %s, want about %s", took, lockTimeout)
	}

	// The lock goes with Close.
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	third, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open after the first store closed: %v", err)
	}
	third.Close()
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "lbd")
	s := openStore(t, dir, Options{NoSync: true})

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("stat data directory: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("data directory mode = %o, want 700", got)
	}
	info, err = os.Stat(s.Path())
	if err != nil {
		t.Fatalf("stat store file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("store file mode = %o, want 600", got)
	}
	if want := filepath.Join(dir, FileName); s.Path() != want {
		t.Errorf("Path() = %s, want %s", s.Path(), want)
	}
}

func TestOpenRejectsBadArguments(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		dir  string
		opts Options
		want string
	}{
		"empty dir":          {"", Options{}, `invalid data directory ""`},
		"negative MaxBatch":  {t.TempDir(), Options{MaxBatch: -1}, "invalid MaxBatch -1: must be 0 for the default of 10000, or more"},
		"dir is a file":      {file, Options{}, "create data directory " + file},
		"parent is a file":   {filepath.Join(file, "sub"), Options{}, "create data directory " + filepath.Join(file, "sub")},
		"store is directory": {storeIsDirectory(t), Options{}, "open store "},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := Open(c.dir, c.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: err = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func storeIsDirectory(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenEmptyFileCreatesStore(t *testing.T) {
	// A crash between creating the file and writing its first pages leaves
	// an empty file, which bbolt initializes.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir, Options{NoSync: true})
	mustWrite(t, s, Batch{Put: []*Record{testRecord("a", 1)}})
	s.Close()
	if got := loadAll(t, dir); len(got) != 1 {
		t.Errorf("Load returned %d records, want 1", len(got))
	}
}

func TestCreateDirReturnsNewDirectories(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "c")
	got, err := createDir(dir)
	if err != nil {
		t.Fatalf("createDir: %v", err)
	}
	want := []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("createDir returned %q, want %q", got, want)
	}

	got, err = createDir(dir)
	if err != nil {
		t.Fatalf("createDir of an existing directory: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("createDir of an existing directory returned %q, want none", got)
	}
}
