package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	// FileName is the name of the store file inside the data directory.
	FileName = "tasks.db"

	// FormatVersion is the layout of buckets and records that this code
	// reads and writes. Open rejects a file with any other version.
	FormatVersion = 1

	// DefaultMaxBatch is the number of records per transaction when
	// Options.MaxBatch is 0.
	DefaultMaxBatch = 10000

	// lockTimeout bounds the wait for the file lock, so that a second master
	// on the same data directory fails at start-up instead of hanging.
	lockTimeout = time.Second

	// maxGroupBytes closes a group commit at this many encoded bytes, which
	// bounds the memory of one transaction when tasks carry large payloads.
	// A single Write larger than this still commits, alone.
	// NOTE: the value is a judgment and was not measured.
	maxGroupBytes = 64 << 20

	// initialMmapSize lets the file grow to this size without a remap. A remap
	// waits for every read transaction to end. The mapping takes address
	// space only, not memory or disk.
	initialMmapSize = 64 << 20
)

var (
	metaBucket  = []byte("meta")
	formatKey   = []byte("format_version")
	tasksBucket = []byte("tasks")
)

// Options configures Open.
type Options struct {
	// NoSync skips fsync, so a crash of the machine can lose acknowledged
	// writes. It is meant for tests and benchmarks only.
	NoSync bool

	// MaxBatch is the number of records after which a group commit is closed
	// and later writes wait for the next transaction. 0 means
	// DefaultMaxBatch. A single Write with more records commits alone.
	MaxBatch int

	// Logger receives open, close and commit failure messages. nil discards
	// them.
	Logger *slog.Logger
}

func (o Options) maxBatch() (int, error) {
	if o.MaxBatch < 0 {
		return 0, fmt.Errorf("invalid MaxBatch %d: must be 0 for the default of %d, or more", o.MaxBatch, DefaultMaxBatch)
	}
	if o.MaxBatch == 0 {
		return DefaultMaxBatch, nil
	}
	return o.MaxBatch, nil
}

// Open opens or creates the store file dir/tasks.db, creating dir with mode
// 0700 when it is missing. It holds an exclusive lock on the file until
// Close, so a second master on the same directory fails after about a
// second. Open rejects a file that is not a bbolt database, a bbolt database
// that is not an lbd task store, and a store of another format version.
func Open(dir string, opts Options) (*Bolt, error) {
	if dir == "" {
		return nil, errors.New(`invalid data directory "": set data_dir to the directory for the task store`)
	}
	maxBatch, err := opts.maxBatch()
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	newDirs, err := createDir(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	db, err := bbolt.Open(path, 0o600, boltOptions(opts.NoSync))
	if err != nil {
		return nil, openError(dir, path, err)
	}

	created, err := checkFormat(db, path)
	if err == nil && created && !opts.NoSync {
		err = syncParents(append(newDirs, path))
	}
	if err != nil {
		db.Close()
		return nil, err
	}

	logger.Info("task store opened", "path", path, "created", created,
		"format_version", FormatVersion, "max_batch", maxBatch)
	if opts.NoSync {
		logger.Warn("task store fsync is off: a machine crash can lose accepted tasks", "path", path)
	}
	return newBolt(db, path, maxBatch, logger), nil
}

// createDir creates dir and its missing parents with mode 0700 and returns
// the directories it created, outermost first.
func createDir(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(missing)

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return missing, nil
}

// syncParents fsyncs the directory that contains each of paths. fsync of a
// new file makes its contents durable but not its directory entry, so without
// this a power cut could lose a new store together with its first tasks.
func syncParents(paths []string) error {
	for _, p := range paths {
		parent := filepath.Dir(p)
		d, err := os.Open(parent)
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", parent, err)
		}
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", parent, err)
		}
	}
	return nil
}

func boltOptions(noSync bool) *bbolt.Options {
	return &bbolt.Options{
		Timeout: lockTimeout,

		// Deleting finished tasks leaves many free pages. bbolt v1.4 documents
		// that its default array freelist slows down badly when the freelist is
		// large and fragmented, and that the hashmap freelist is faster in
		// almost all cases.
		FreelistType: bbolt.FreelistMapType,

		// Without this every commit also writes the freelist, which grows with
		// the number of free pages. The cost is a scan of the file at Open to
		// rebuild the freelist, and the master reads the whole file at start-up
		// anyway.
		NoFreelistSync: true,

		InitialMmapSize: initialMmapSize,
		NoSync:          noSync,
	}
}

// openError explains an error of bbolt.Open. Errors from the operating
// system (permissions, a directory in place of the file, mmap) keep their own
// words. Everything else comes from bbolt's checks of the file contents,
// which include errors without a sentinel such as "file size too small".
func openError(dir, path string, err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("open store %s: another lbd master uses the data directory %s (file lock not acquired within %s): stop that master or give this one another data_dir: %w",
			path, dir, lockTimeout, err)
	}

	var pathErr *os.PathError
	var errno syscall.Errno
	if errors.As(err, &pathErr) || errors.As(err, &errno) {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	return fmt.Errorf("open store %s: the file is not a bbolt database or is damaged: %w: restore it from a backup or move it away",
		path, err)
}

// checkFormat verifies the format version of an existing store, or writes the
// buckets and the version into a new one and returns true.
func checkFormat(db *bbolt.DB, path string) (bool, error) {
	fresh := false
	err := db.View(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(metaBucket); meta != nil {
			return checkVersion(tx, meta, path)
		}

		// A file with buckets but no meta bucket belongs to another program.
		if name, _ := tx.Cursor().First(); name != nil {
			return fmt.Errorf("store %s contains bucket %q but no lbd format version: it is not an lbd task store: move it away or choose another data_dir",
				path, name)
		}
		fresh = true
		return nil
	})
	if err != nil || !fresh {
		return false, err
	}

	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(formatKey, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		_, err = tx.CreateBucket(tasksBucket)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("initialize store %s: %w", path, err)
	}
	return true, nil
}

func checkVersion(tx *bbolt.Tx, meta *bbolt.Bucket, path string) error {
	raw := meta.Get(formatKey)
	if raw == nil {
		return fmt.Errorf("store %s has no format version in its meta bucket: the file is damaged or not an lbd task store: move the data directory away",
			path)
	}
	version, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return fmt.Errorf("store %s has an invalid format version %q: the file is damaged: move the data directory away", path, raw)
	}
	if version != FormatVersion {
		return fmt.Errorf("store %s has format version %d; this lbd reads version %d: upgrade lbd or move the data directory away",
			path, version, FormatVersion)
	}
	if tx.Bucket(tasksBucket) == nil {
		return fmt.Errorf("store %s has format version %d but no tasks bucket: the file is damaged: move the data directory away",
			path, version)
	}
	return nil
}
