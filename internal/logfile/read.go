package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// pollInterval is how often a follower looks for new lines and for a rotation
// when it has read everything: the latency of Follow.
const pollInterval = 50 * time.Millisecond

// readBufSize holds a maximal line and room to read behind it.
const readBufSize = 4 * maxLine

// ReadOptions selects the lines Read delivers.
type ReadOptions struct {
	Tail   int       // only the last Tail lines (0 = all) — counted over the rotated files too
	Since  time.Time // only lines at or after Since (zero = no bound)
	Follow bool      // after the stored lines, keep delivering new ones (across rotation and across the file being created later) until ctx ends
}

// Read calls fn with the lines stored at path, oldest first: PATH.Keep … PATH.1,
// then PATH. It delivers complete lines only; a last line still being written is
// delivered, when following, once its newline is there. No file at path is no
// lines, not an error.
//
// Read stops at the first error of fn and returns it as it is. Without Follow it
// returns once it has read PATH to its end (or ctx's error if ctx ends first).
// With Follow it keeps delivering new lines, within 50 ms of their being written,
// and returns nil when ctx ends. A follower never loses or repeats a line at a
// rotation; one that falls more than Keep rotations behind loses the files dropped
// meanwhile and continues at the oldest file kept.
//
// A stored line that does not parse (the file was not written by this package, or
// was damaged) is an error naming the file and offset.
func Read(ctx context.Context, path string, opts ReadOptions, fn func(Line) error) error {
	return read(ctx, path, opts, fn, nil)
}

// read is Read with a hook for tests, called each time the reader has reached the
// end of the newest file it knows and before it looks for a rotation: the one
// moment a test cannot reach from outside.
func read(ctx context.Context, path string, opts ReadOptions, fn func(Line) error, atEnd func()) error {
	r := &reader{path: path, opts: opts, fn: fn, since: opts.Since, buf: make([]byte, readBufSize), atEnd: atEnd}
	defer r.close()
	err := r.run(ctx)
	if err != nil && opts.Follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// reader is the state of one Read.
type reader struct {
	path  string
	opts  ReadOptions
	fn    func(Line) error
	since time.Time // lines before it are skipped
	last  time.Time // stamp of the last line read, delivered or not
	// resync: the file being read left the chain; from the next file on, lines
	// older than the last one read are skipped.
	resync bool

	files []logFile // files[0] is being read; the rest follow it, oldest first
	buf   []byte
	end   int   // buf[:end] is read and not yet delivered: the start of a line
	off   int64 // offset of buf[0] in files[0]
	timer *time.Timer
	atEnd func() // see read
}

func (r *reader) close() {
	closeAll(r.files)
	if r.timer != nil {
		r.timer.Stop()
	}
}

func (r *reader) run(ctx context.Context) error {
	if err := r.first(ctx); err != nil || len(r.files) == 0 {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur := r.files[0]
		n, err := cur.f.Read(r.buf[r.end:])
		if n > 0 {
			r.end += n
			if err := r.deliver(); err != nil {
				return err
			}
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read log: %w", err)
		}
		if len(r.files) > 1 {
			// cur is complete: a newer file exists. A partial line left at its end
			// was torn by a crash and never finished; it is dropped.
			cur.f.Close()
			r.files, r.end, r.off = r.files[1:], 0, 0
			if r.resync {
				r.since, r.resync = later(r.since, r.last), false
			}
			continue
		}
		if r.atEnd != nil {
			r.atEnd()
		}
		more, err := r.rotated(ctx)
		if err != nil {
			return err
		}
		if more {
			continue // read cur to its end again, then go on
		}
		if !r.opts.Follow {
			return nil
		}
		if err := r.wait(ctx); err != nil {
			return err
		}
	}
}

// first opens the chain and positions the reader at the first line to deliver.
// When following a log that does not exist yet, it waits for it; everything
// written to it then is new, so Tail does not apply.
func (r *reader) first(ctx context.Context) error {
	files, err := snapshot(ctx, r.path)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	if len(files) > 0 {
		i, off, err := start(files, r.opts)
		if err != nil {
			closeAll(files)
			return fmt.Errorf("read log: %w", err)
		}
		closeAll(files[:i])
		r.files = files[i:]
		if _, err := r.files[0].f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		r.off = off
		return nil
	}
	if !r.opts.Follow {
		return nil
	}
	for len(r.files) == 0 {
		if err := r.wait(ctx); err != nil {
			return err
		}
		if r.files, err = snapshot(ctx, r.path); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
	return nil
}

// start finds where the lines selected by Tail and Since begin: the index of a
// file and the offset in it. It reads backwards from the end of the newest file,
// counting lines for Tail and stopping at the first line older than Since (the
// writer keeps every file sorted by time).
func start(files []logFile, opts ReadOptions) (int, int64, error) {
	if opts.Tail <= 0 && opts.Since.IsZero() {
		return 0, 0, nil
	}
	count := 0
	for i := len(files) - 1; i >= 0; i-- {
		s, err := newBackScanner(files[i].f, files[i].info.Size())
		if err != nil {
			return 0, 0, err
		}
		for {
			line, off, ok, err := s.prev()
			if err != nil {
				return 0, 0, err
			}
			if !ok {
				break
			}
			if !opts.Since.IsZero() && len(line) >= timeLen {
				// A stamp that does not parse is left for the forward read to report.
				if t, err := parseTime(line[:timeLen]); err == nil && t.Before(opts.Since) {
					return i, off + int64(len(line)) + 1, nil
				}
			}
			count++
			if count == opts.Tail {
				return i, off, nil
			}
		}
	}
	return 0, 0, nil
}

// deliver hands every complete line in buf to fn.
func (r *reader) deliver() error {
	used := 0
	for {
		i := bytes.IndexByte(r.buf[used:r.end], '\n')
		if i < 0 {
			break
		}
		rec, at := r.buf[used:used+i], r.off+int64(used)
		used += i + 1
		line, err := ParseLine(rec)
		if err != nil {
			return fmt.Errorf("read log %s at offset %d: %w", r.files[0].f.Name(), at, err)
		}
		r.last = line.Time
		if line.Time.Before(r.since) {
			continue
		}
		if err := r.fn(line); err != nil {
			return err
		}
	}
	r.end = copy(r.buf, r.buf[used:r.end])
	r.off += int64(used)
	if r.end >= maxLine {
		return fmt.Errorf("read log %s at offset %d: line longer than %d bytes", r.files[0].f.Name(), r.off, maxLine)
	}
	return nil
}

// rotated is called at the end of the newest file known. It reports whether
// newer files exist, and appends them to r.files; the current file is then
// complete, because the writer renames a file only after its last write.
//
// The current file is still PATH if PATH has the same inode. Otherwise a snapshot
// of the chain says where it went. Not in the chain at all, it was dropped (the
// reader fell more than Keep rotations behind) or removed by hand: after its end,
// reading goes on with the whole chain from its oldest file, skipping lines older
// than the last one read, so that nothing older is delivered again.
func (r *reader) rotated(ctx context.Context) (bool, error) {
	cur := r.files[0]
	fi, err := os.Stat(r.path)
	if err == nil && os.SameFile(fi, cur.info) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read log: %w", err)
	}
	files, err := snapshot(ctx, r.path)
	if err != nil {
		return false, fmt.Errorf("read log: %w", err)
	}
	for i, lf := range files {
		if os.SameFile(lf.info, cur.info) {
			closeAll(files[:i+1])
			r.files = append(r.files, files[i+1:]...)
			// With nothing newer, PATH has been renamed and not yet created.
			return i+1 < len(files), nil
		}
	}
	if len(files) == 0 {
		return false, nil
	}
	r.resync = true
	r.files = append(r.files, files...)
	return true, nil
}

// wait sleeps for one poll interval, or until ctx ends.
func (r *reader) wait(ctx context.Context) error {
	if r.timer == nil {
		r.timer = time.NewTimer(pollInterval)
	} else {
		r.timer.Reset(pollInterval)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.timer.C:
		return nil
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
