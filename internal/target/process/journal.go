package process

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// record is what a Target keeps on disk about an instance it started, for a Target that
// adopts the instance later and knows no more than its Handle: the signal that stops it and
// the log its output goes to. The environment is not kept (it may hold secrets); an adopter
// reads /proc/PID/environ when it needs it (Exec). A record with Removed set is a tombstone:
// Remove was called for ID.
type record struct {
	ID         string `json:"id"`
	Boot       string `json:"boot,omitempty"` // the boot it was written in; IDs repeat across boots
	Stack      string `json:"stack,omitempty"`
	Service    string `json:"service,omitempty"`
	StopSignal string `json:"stop_signal,omitempty"`
	LogPath    string `json:"log_path,omitempty"`
	// Kept are the read ends of its output pipes that the instance holds (see keep.go).
	Kept    []keptFD `json:"kept,omitempty"`
	Removed bool     `json:"removed,omitempty"`
}

// equal reports whether r and o are the same record.
func (r record) equal(o record) bool {
	return r.ID == o.ID && r.Boot == o.Boot && r.Stack == o.Stack && r.Service == o.Service &&
		r.StopSignal == o.StopSignal && r.LogPath == o.LogPath && r.Removed == o.Removed &&
		slices.Equal(r.Kept, o.Kept)
}

// journalSuffix ends the name of every journal file.
const journalSuffix = ".journal"

// rewriteAfter is how many dead lines (records removed, tombstones of own records) the own
// journal holds before it is rewritten with the live ones only.
const rewriteAfter = 4096

// journal keeps the records of a Target in Options.StateDir: one append-only file per Target
// value, JSON lines, created at its first write and locked (flock) while the Target lives.
// Appending a line costs one write(2); a file per instance would cost an inode per Start,
// which on some filesystems costs as much as the fork itself.
//
// Every Target reads every journal of the directory. A journal whose lock is free belongs to
// a Target that is gone (closed, or its process died): the next Target that opens its own
// journal folds it in — it copies the records that still matter and deletes the file — so
// the directory holds about one file per live Target. Records of another boot are dropped.
type journal struct {
	dir  string
	boot func() (string, error)
	log  *slog.Logger

	mu      sync.Mutex
	own     *os.File          // nil until the first write, and after close
	ownName string            // the path of own
	ownLive map[string]record // the records of own that a rewrite keeps, tombstones included
	ownDead int               // lines of own that a rewrite drops
	index   map[string]record // live records of every journal, by ID; nil until loaded
	closed  bool
}

func newJournal(dir string, log *slog.Logger) *journal {
	return &journal{dir: dir, boot: sync.OnceValues(readBootID), log: log, ownLive: make(map[string]record)}
}

// readBootID reads the ID of this boot.
func readBootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// add writes the record of an instance just started.
func (j *journal) add(r record) error {
	boot, err := j.boot()
	if err != nil {
		return fmt.Errorf("journal: read boot id: %w", err)
	}
	r.Boot = boot
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.append(r); err != nil {
		return err
	}
	j.ownLive[r.ID] = r
	if j.index != nil {
		j.index[r.ID] = r
	}
	return nil
}

// remove records that the instance id was removed; nothing when no journal knows it.
func (j *journal) remove(id string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if old, ok := j.ownLive[id]; ok && !old.Removed {
		// An own record: a rewrite drops both it and the tombstone.
		delete(j.ownLive, id)
		j.ownDead += 2
		delete(j.index, id)
		if err := j.append(record{ID: id, Removed: true}); err != nil {
			return err
		}
		return j.rewriteIfDead()
	}
	if err := j.load(); err != nil {
		return err
	}
	if _, ok := j.index[id]; !ok {
		return nil
	}
	delete(j.index, id)
	r := record{ID: id, Removed: true}
	if err := j.append(r); err != nil {
		return err
	}
	j.ownLive[id] = r // the record is in another journal: the tombstone must survive a rewrite
	return nil
}

// lookup returns the live record of id, reading the journals again when it is not known:
// another Target may have written it since.
func (j *journal) lookup(id string) (record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r, ok := j.index[id]; ok {
		return r, true
	}
	j.index = nil
	if err := j.load(); err != nil {
		j.log.Warn("process: read the journals", "dir", j.dir, "err", err)
		return record{}, false
	}
	r, ok := j.index[id]
	return r, ok
}

// close closes the own journal, which releases its lock: the next Target folds it in.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	if j.own == nil {
		return nil
	}
	err := j.own.Close()
	j.own = nil
	return err
}

// append writes r to the own journal, opening it (and folding in the journals of gone
// Targets) at the first write. The caller holds mu.
func (j *journal) append(r record) error {
	if j.own == nil {
		if err := j.open(); err != nil {
			return err
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := j.own.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// open creates and locks the own journal and folds in the journals of gone Targets. The
// caller holds mu.
func (j *journal) open() error {
	if j.closed {
		return errClosed
	}
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	name := filepath.Join(j.dir, strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+journalSuffix)
	f, err := createLocked(name, nil)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.own, j.ownName = f, name
	if err := j.fold(); err != nil {
		// Folding is housekeeping: the journals stay for the next Target to fold.
		j.log.Warn("process: fold the journals of gone targets", "dir", j.dir, "err", err)
	}
	return nil
}

// createLocked creates the file name, locked, with content: under another name first and
// renamed once locked, so that no reader ever finds it without its lock (and takes it for
// the journal of a gone Target).
func createLocked(name string, content []byte) (*os.File, error) {
	tmp := name + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil && len(content) > 0 {
		_, err = f.Write(content)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return f, nil
}

// journalFile is one journal as read.
type journalFile struct {
	name    string
	records []record
	lock    *os.File // held while folding: set for the journal of a gone Target
}

// readJournals reads every journal of the directory but the own one. With takeLocks, it
// takes the lock of each journal it can: those are the journals of gone Targets.
func (j *journal) readJournals(takeLocks bool) ([]journalFile, error) {
	entries, err := os.ReadDir(j.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files []journalFile
	for _, e := range entries {
		name := filepath.Join(j.dir, e.Name())
		if !strings.HasSuffix(name, journalSuffix) || name == j.ownName {
			continue
		}
		jf := journalFile{name: name}
		if takeLocks {
			jf.lock = lockIfGone(name)
		}
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // folded by another Target meanwhile
		}
		if err != nil {
			return nil, err
		}
		jf.records = parseJournal(b)
		files = append(files, jf)
	}
	return files, nil
}

// lockIfGone takes the lock of the journal name if its Target is gone, and returns the file
// that holds it; nil when the Target lives. The lock must be on the file that has the name
// now: a rewrite may have renamed a new file over the one opened.
func lockIfGone(name string) *os.File {
	f, err := os.Open(name)
	if err != nil {
		return nil
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		held, err1 := f.Stat()
		now, err2 := os.Stat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f
		}
	}
	f.Close()
	return nil
}

// parseJournal parses JSON lines; a damaged line (a crash in the middle of a write) is
// skipped.
func parseJournal(b []byte) []record {
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID != "" {
			out = append(out, r)
		}
	}
	return out
}

// load builds the index from every journal, unless it is built. The caller holds mu.
func (j *journal) load() error {
	if j.index != nil {
		return nil
	}
	files, err := j.readJournals(false)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	boot, err := j.boot()
	if err != nil {
		return fmt.Errorf("journal: read boot id: %w", err)
	}
	own := make([]record, 0, len(j.ownLive))
	for _, r := range j.ownLive {
		own = append(own, r)
	}
	j.index = liveRecords(boot, append(files, journalFile{records: own}))
	return nil
}

// liveRecords returns the records of this boot that no tombstone of any file removed.
func liveRecords(boot string, files []journalFile) map[string]record {
	live := make(map[string]record)
	removed := make(map[string]bool)
	for _, f := range files {
		for _, r := range f.records {
			switch {
			case r.Removed:
				removed[r.ID] = true
			case r.Boot == boot:
				live[r.ID] = r
			}
		}
	}
	for id := range removed {
		delete(live, id)
	}
	return live
}

// fold copies what still matters of the journals of gone Targets into the own journal and
// deletes them: their live records, and their tombstones of records that journals of live
// Targets hold. The caller holds mu.
func (j *journal) fold() error {
	files, err := j.readJournals(true)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			if f.lock != nil {
				f.lock.Close()
			}
		}
	}()
	boot, err := j.boot()
	if err != nil {
		return err
	}
	live := liveRecords(boot, files)
	kept := make(map[string]bool) // IDs with a record in the journal of a live Target
	for _, f := range files {
		if f.lock == nil {
			for _, r := range f.records {
				kept[r.ID] = true
			}
		}
	}
	var carry []byte
	for _, f := range files {
		if f.lock == nil {
			continue
		}
		for _, r := range f.records {
			if (r.Removed && kept[r.ID]) || (!r.Removed && live[r.ID].equal(r)) {
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				carry = append(append(carry, b...), '\n')
				j.ownLive[r.ID] = r
			}
		}
	}
	if len(carry) > 0 {
		if _, err := j.own.Write(carry); err != nil {
			return err
		}
	}
	for _, f := range files {
		if f.lock != nil {
			if err := os.Remove(f.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// rewriteIfDead rewrites the own journal with its live lines once it holds many dead ones:
// a new locked file renamed over the old, so that a reader finds one or the other whole.
// The caller holds mu.
func (j *journal) rewriteIfDead() error {
	if j.ownDead < rewriteAfter || j.ownDead < len(j.ownLive) {
		return nil
	}
	var b []byte
	for _, r := range j.ownLive {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("journal: rewrite: %w", err)
		}
		b = append(append(b, line...), '\n')
	}
	f, err := createLocked(j.ownName, b)
	if err != nil {
		return fmt.Errorf("journal: rewrite: %w", err)
	}
	j.own.Close()
	j.own = f
	j.ownDead = 0
	return nil
}
