package registry

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors; the registry wraps them with the operation.
var (
	// ErrClosed: the Registry was closed.
	ErrClosed = errors.New("registry closed")
	// ErrLocked: another process has the registry file open.
	ErrLocked = errors.New("locked by another process")
	// ErrCompacted: the events after the requested revision are no longer all in the log. Re-list
	// and watch from the revision List returns.
	ErrCompacted = errors.New("revision compacted")
	// ErrFutureRevision: the requested revision has not been written yet.
	ErrFutureRevision = errors.New("revision not reached yet")
	// ErrSlow: the watcher did not keep up and was cut off. Watch again from the last revision
	// seen.
	ErrSlow = errors.New("watcher too slow, cut off")
)

// Option defaults.
const (
	// DefaultKeepEvents is the default of Options.KeepEvents.
	DefaultKeepEvents = 10000
	// DefaultWatchBuffer is the default of Options.WatchBuffer.
	DefaultWatchBuffer = 256
	// DefaultLockTimeout is the default of Options.LockTimeout: long enough for a daemon that
	// is exiting to let go, short enough that a second daemon fails at once.
	DefaultLockTimeout = time.Second
)

// Options tune a Registry. The zero value selects the defaults.
type Options struct {
	// KeepEvents is how many of the latest events the log retains; DefaultKeepEvents when ≤ 0.
	KeepEvents int
	// WatchBuffer is how many live events a watcher may have pending before it is cut off;
	// DefaultWatchBuffer when ≤ 0.
	WatchBuffer int
	// LockTimeout is how long Open waits for another process to release the file;
	// DefaultLockTimeout when ≤ 0.
	LockTimeout time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.KeepEvents <= 0 {
		o.KeepEvents = DefaultKeepEvents
	}
	if o.WatchBuffer <= 0 {
		o.WatchBuffer = DefaultWatchBuffer
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// The bucket layout, described in doc.go.
const (
	bucketRecords = "records"
	bucketEvents  = "events"
	bucketMeta    = "meta"
	bucketIPAM    = "ipam"
	keyFormat     = "format"
	// format is the layout version stored under meta/format.
	format = "1"
)

// Registry is the durable record of service instances with its event log. Open one per file.
type Registry struct {
	db   *bolt.DB
	path string
	opts Options
	log  *slog.Logger

	// mu is the write lock: held from the start of a write transaction until its event is
	// published, and while a watcher registers. It guards watchers and oldest.
	mu       sync.Mutex
	watchers map[*Watcher]struct{}
	// current holds the records committed since Open, by key, so that a write need not
	// decode the record it changes. Guarded by mu.
	current map[string]Record
	// qmu guards the queue of writes waiting for a commit, and whether the committer runs
	// (see enqueue).
	qmu        sync.Mutex
	queue      []*op
	committing bool
	// oldest is the first revision in the log; current+1 when the log is empty.
	oldest uint64
	// rev is the current revision: committed and published. Written under mu.
	rev atomic.Uint64
	// closed is set under mu and qmu by Close.
	closed atomic.Bool

	// wg counts the watcher goroutines and the committer.
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens the registry file at path, creating it when absent. When another process holds
// it, Open fails after opts.LockTimeout with an error wrapping ErrLocked.
func Open(path string, opts Options) (*Registry, error) {
	opts = opts.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("registry %s is %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	r := &Registry{
		db:       db,
		path:     path,
		opts:     opts,
		log:      opts.Logger,
		watchers: make(map[*Watcher]struct{}),
		current:  make(map[string]Record),
	}
	if err := db.Update(r.init); err != nil {
		// The open error is the one to report; closing a file nothing was written to is
		// incidental.
		_ = db.Close()
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	r.log.Debug("registry opened", "path", path, "revision", r.rev.Load(), "oldest", r.oldest)
	return r, nil
}

// init creates the buckets of a new file, checks the layout version of an existing one, and
// loads the current and oldest revisions.
func (r *Registry) init(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return err
	}
	switch v := meta.Get([]byte(keyFormat)); {
	case v == nil:
		if err := meta.Put([]byte(keyFormat), []byte(format)); err != nil {
			return err
		}
	case string(v) != format:
		return fmt.Errorf("layout version %q, want %q", v, format)
	}
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketRecords)); err != nil {
		return err
	}
	// Added within format 1: a file written before it gets the bucket here (see doc.go).
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketIPAM)); err != nil {
		return err
	}
	events, err := tx.CreateBucketIfNotExists([]byte(bucketEvents))
	if err != nil {
		return err
	}
	rev := events.Sequence()
	r.rev.Store(rev)
	r.oldest = rev + 1
	if k, _ := events.Cursor().First(); k != nil {
		r.oldest = decodeRevision(k)
	}
	return nil
}

// Close cuts off every watcher (their Err returns ErrClosed), waits for their goroutines and
// closes the file. It is idempotent; later calls return the first call's result.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		// Under qmu too: a writer that found the registry open has counted its committer in
		// wg, which fails what is left with ErrClosed.
		r.qmu.Lock()
		r.closed.Store(true)
		r.qmu.Unlock()
		for w := range r.watchers {
			r.cutOff(w, ErrClosed)
		}
		r.mu.Unlock()
		r.wg.Wait()
		if err := r.db.Close(); err != nil {
			r.closeErr = fmt.Errorf("close registry %s: %w", r.path, err)
		}
	})
	return r.closeErr
}

// Revision returns the current revision: the revision of the last write, 0 before any. Every
// event up to it has been delivered to the live watchers' buffers.
func (r *Registry) Revision() uint64 { return r.rev.Load() }

// Get returns the record of k, and whether there is one.
func (r *Registry) Get(k Key) (Record, bool, error) {
	if err := k.validate(); err != nil {
		return Record{}, false, fmt.Errorf("get %s: %w", k, err)
	}
	var (
		rec   Record
		found bool
	)
	err := r.view(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketRecords)).Get(k.bytes())
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("get %s: %w", k, err)
	}
	return rec, found, nil
}

// List returns the records of stack, or of every stack when stack is "", in key order, and the
// revision of the snapshot they were read from: watching from that revision misses nothing.
func (r *Registry) List(stack string) ([]Record, uint64, error) {
	if bytes.IndexByte([]byte(stack), 0) >= 0 {
		return nil, 0, fmt.Errorf("list %q: stack name contains a NUL byte", stack)
	}
	var (
		recs []Record
		rev  uint64
	)
	err := r.view(func(tx *bolt.Tx) error {
		rev = tx.Bucket([]byte(bucketEvents)).Sequence()
		prefix := stackPrefix(stack)
		c := tx.Bucket([]byte(bucketRecords)).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list %q: %w", stack, err)
	}
	return recs, rev, nil
}

// view runs fn in a read transaction, reporting ErrClosed once the registry is closed.
func (r *Registry) view(fn func(*bolt.Tx) error) error {
	if r.closed.Load() {
		return ErrClosed
	}
	err := r.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		// Close won the race after the check above.
		return ErrClosed
	}
	return err
}

func encodeRevision(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }

func decodeRevision(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
