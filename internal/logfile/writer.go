package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

const (
	defaultMaxBytes = 10 << 20
	defaultKeep     = 3

	// readSize is how much Drain asks of its reader at once: the default capacity of a
	// Linux pipe, so that one read usually empties it.
	readSize = 64 << 10

	// subscriberBuffer is how many lines a subscriber may fall behind before it loses
	// lines.
	subscriberBuffer = 1024
)

// Options tunes a Writer. The zero value is usable.
type Options struct {
	MaxBytes int64 // rotate when the file reaches this size; default 10 MiB
	Keep     int   // rotated files kept: PATH.1 … PATH.Keep (PATH.1 newest); default 3
}

// Writer appends a service's output to its log file, one stored line per output
// line, and rotates the file by size. Its methods are safe for concurrent use.
type Writer struct {
	path string
	max  int64
	keep int

	mu     sync.Mutex
	f      *os.File // nil before the first line, after Close, or after a rotation that could not open PATH
	size   int64
	last   time.Time // the stamp written last; stamps never go back
	closed bool
	subs   map[*subscriber]struct{}
	// top is the highest k for which PATH.k may exist, so that a rotation with a
	// large Keep renames only the files there are; -1 until the first rotation looks.
	top int
}

// subscriber is one Subscribe call: its channel, and the stop function of the
// context.AfterFunc that closes the channel when the subscriber's context ends.
type subscriber struct {
	ch   chan string
	stop func() bool
}

// Open returns a Writer for the log file at path, creating its parent directories
// (0o755) when missing. The file itself is created (or continued) at the first line
// stored, so that a service that prints nothing costs no file: creating a file is the
// dearest part of starting a service on some filesystems. Open fails at once when the
// file could not be written. An existing file is continued: a torn last line is
// terminated, and new stamps never precede the stamp of the last stored line.
func Open(path string, opts Options) (*Writer, error) {
	w := &Writer{path: path, max: opts.MaxBytes, keep: opts.Keep, subs: map[*subscriber]struct{}{}, top: -1}
	if w.max <= 0 {
		w.max = defaultMaxBytes
	}
	if w.keep <= 0 {
		w.keep = defaultKeep
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := writable(path); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return w, nil
}

// writable reports why path could not be opened for writing, or created.
func writable(path string) error {
	err := unix.Access(path, unix.W_OK)
	if errors.Is(err, fs.ErrNotExist) {
		err = unix.Access(filepath.Dir(path), unix.W_OK)
		path = filepath.Dir(path)
	}
	if err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}

// open opens (creating it when missing) PATH and continues it. w.mu is held.
func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := w.resume(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.f = f
	return nil
}

// resume reads the end of an existing file: it terminates a torn last line (left by
// a crash in the middle of a write) so that the next line starts on its own, and
// remembers the last stamp so that the file stays sorted by time.
func (w *Writer) resume(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	w.size = fi.Size()
	if w.size == 0 {
		return nil
	}
	from := max(0, w.size-int64(maxLine)-1)
	tail := make([]byte, w.size-from)
	if _, err := f.ReadAt(tail, from); err != nil {
		return err
	}
	if tail[len(tail)-1] != '\n' {
		n, err := f.Write([]byte{'\n'})
		w.size += int64(n)
		if err != nil {
			return err
		}
		tail = append(tail, '\n')
	}
	body := tail[:len(tail)-1]
	last := body[bytes.LastIndexByte(body, '\n')+1:]
	if len(last) >= timeLen {
		if t, err := parseTime(last[:timeLen]); err == nil && t.After(w.last) {
			w.last = t
		}
	}
	return nil
}

// removeExtra removes PATH.N for the N above Keep, and notes the highest N kept.
func (w *Writer) removeExtra() error {
	// Probe by name rather than list the directory: a data dir holds the logs of every
	// service, and listing it at every open made starting N services cost O(N²).
	for n := 1; n <= w.keep; n++ {
		if _, err := os.Lstat(w.path + "." + strconv.Itoa(n)); err == nil {
			w.top = n
		}
	}
	// Rotated files are contiguous, but an earlier, larger Keep may leave a gap: stop after
	// 16 missing names in a row.
	// Lstat first: unlinking a missing name takes the directory's lock, a stat does not.
	for n, missing := w.keep+1, 0; missing < 16; n++ {
		name := w.path + "." + strconv.Itoa(n)
		if _, err := os.Lstat(name); err != nil {
			missing++
			continue
		}
		missing = 0
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// firstBuf is the size a Drainer's buffer starts at, allocated at its first read: at the
// end of a quiet stream (one read, of nothing) that is all it costs. initialBuf is the size
// it grows to as soon as a read fills it.
const (
	firstBuf   = 512
	initialBuf = 8 << 10
)

// Drain reads r until EOF and stores each line it reads under stream ("stdout" or
// "stderr"), as a Drainer does. It returns nil at EOF, the first error storing lines
// (after which it reads r to its end all the same, dropping what it reads), or the first
// read error.
func (w *Writer) Drain(stream string, r io.Reader) error {
	d, err := w.Drainer(stream)
	if err != nil {
		return err
	}
	rerr, serr := d.Drain(r)
	if serr != nil {
		return serr
	}
	if rerr != nil {
		return fmt.Errorf("drain %s: %w", stream, rerr)
	}
	return nil
}

// A Drainer stores the lines of one output stream that is read in pieces, as a
// non-blocking pipe is: each Drain reads until its reader fails, and a line cut
// between two Drains is stored whole. Text longer than 64 KiB without a newline is
// stored as several lines, cut at a UTF-8 character boundary where there is one; at
// EOF a final line without a newline is stored as it is.
//
// One read costs one write to the file: every line of the read shares one stamp, taken
// when the lines are written. The Drainers of stdout and of stderr may run at the same
// time on one Writer; their lines never interleave within a line. One Drainer is for
// one goroutine at a time.
type Drainer struct {
	w      *Writer
	b      batch
	buf    []byte
	n      int   // bytes of buf not yet stored: the start of a line
	filled bool  // the last read filled buf
	err    error // the first error storing lines: what is read after it is dropped
}

// Drainer returns a Drainer for stream, "stdout" or "stderr". Its buffer is made at its
// first read, so that a thousand quiet services cost little memory, and doubles while a
// line does not fit, up to the longest line plus one read.
func (w *Writer) Drainer(stream string) (*Drainer, error) {
	if err := checkStream(stream); err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	return &Drainer{w: w, b: batch{stream: stream}}, nil
}

// Drain reads r until it fails, storing every line as it goes. It returns the error of r,
// nil at EOF (the rest is stored then as a last line); any other error leaves what was
// read of an unfinished line for the next Drain, so that a reader that would block
// (EAGAIN) is drained again once it is readable. storeErr is the first error storing lines,
// from this Drain or an earlier one: from then on, what is read is dropped, so that the
// writer of the stream never blocks.
func (d *Drainer) Drain(r io.Reader) (readErr, storeErr error) {
	for {
		switch {
		case d.buf == nil:
			d.buf = make([]byte, firstBuf)
		case d.n == len(d.buf) || d.filled && len(d.buf) < initialBuf:
			grown := make([]byte, max(initialBuf, min(2*len(d.buf), maxText+readSize)))
			copy(grown, d.buf[:d.n])
			d.buf = grown
		}
		m, rerr := r.Read(d.buf[d.n:])
		d.filled = d.n+m == len(d.buf)
		d.n += m
		end := rerr == io.EOF
		if d.err != nil {
			d.n = 0
		} else {
			d.b.reset()
			used := d.b.split(d.buf[:d.n], end)
			if len(d.b.ends) > 0 {
				if err := d.w.write(&d.b); err != nil {
					d.err = fmt.Errorf("drain %s: %w", d.b.stream, err)
				}
			}
			d.n = copy(d.buf, d.buf[used:d.n])
		}
		if end {
			return nil, d.err
		}
		if rerr != nil {
			return rerr, d.err
		}
	}
}

// Note stores a line of harness's own, under the stream "harness", such as
// "started pid 42" or "exited with status 1". A newline in the text starts another
// line.
func (w *Writer) Note(format string, args ...any) error {
	b := batch{stream: "harness"}
	b.split([]byte(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")), true)
	if len(b.ends) == 0 {
		b.add(nil) // an empty note is an empty line, not nothing
	}
	if err := w.write(&b); err != nil {
		return fmt.Errorf("note: %w", err)
	}
	return nil
}

// Subscribe returns a channel that receives the text of every line stored after
// the call, from every stream, until ctx ends or the Writer is closed; then the
// channel is closed.
//
// The channel buffers 1024 lines. A subscriber that falls further behind loses the
// lines that do not fit: writers never wait for a subscriber, because a service
// must never block on its output. Health checks that watch for a line are the use;
// they must not rely on seeing every line under load.
func (w *Writer) Subscribe(ctx context.Context) (<-chan string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, fmt.Errorf("subscribe %s: %w", w.path, os.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", w.path, err)
	}
	s := &subscriber{ch: make(chan string, subscriberBuffer)}
	w.subs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.unsubscribe(s)
	})
	return s.ch, nil
}

// unsubscribe closes the channel of s once; w.mu is held.
func (w *Writer) unsubscribe(s *subscriber) {
	if _, ok := w.subs[s]; ok {
		delete(w.subs, s)
		close(s.ch)
	}
}

// Close closes the file and every subscription. Every Drain on w must have
// returned before Close; a later write fails with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("close %s: %w", w.path, os.ErrClosed)
	}
	w.closed = true
	for s := range w.subs {
		s.stop()
		w.unsubscribe(s)
	}
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// write stores the lines of b: it stamps them, writes them with one write per file
// (rotating between two lines when the next would take the file past MaxBytes), and
// hands their text to the subscribers.
func (w *Writer) write(b *batch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("write %s: %w", w.path, os.ErrClosed)
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	// The stamp is taken under the lock, and never goes back (Round(0) drops the
	// monotonic reading, so the wall clock is compared): the file is sorted by time.
	now := time.Now().Round(0)
	if now.Before(w.last) {
		now = w.last
	}
	w.last = now
	var stamp [timeLen]byte
	appendTime(stamp[:0], now)
	start := 0
	for _, end := range b.ends {
		copy(b.out[start:], stamp[:])
		start = end
	}

	from, prev := 0, 0 // b.out[from:prev] is pending for the current file
	for _, end := range b.ends {
		size := w.size + int64(prev-from)
		if size > 0 && size+int64(end-prev) > w.max {
			if err := w.put(b.out[from:prev]); err != nil {
				return err
			}
			if err := w.rotate(); err != nil {
				return err
			}
			from = prev
		}
		prev = end
	}
	if err := w.put(b.out[from:prev]); err != nil {
		return err
	}
	w.notify(b)
	return nil
}

// put writes p to the current file.
func (w *Writer) put(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return err
}

// rotate removes PATH.Keep, shifts PATH.k to PATH.(k+1) from the oldest down, then
// PATH to PATH.1, and opens a new PATH. The order matters to followers (see
// trySnapshot): a file only ever moves to the next free higher number, and the old
// PATH has received its last byte before it is renamed.
//
// PATH.Keep is removed rather than renamed over: on ext4 a rename that replaces a
// file forces the renamed file's data to disk (auto_da_alloc), which made Drain
// three to four times slower.
func (w *Writer) rotate() error {
	if w.top < 0 {
		// Looked for at the first rotation, not at Open: most logs never rotate, and
		// starting a service must not cost a directory scan.
		w.top = 0
		if err := w.removeExtra(); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if w.top == w.keep {
		if err := os.Remove(rotatedName(w.path, w.keep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	from := min(w.top, w.keep-1)
	w.top = min(w.top+1, w.keep) // set first: too high costs a failed rename, too low a file
	for k := from; k >= 0; k-- {
		name := w.path
		if k > 0 {
			name = rotatedName(w.path, k)
		}
		if err := os.Rename(name, rotatedName(w.path, k+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	old := w.f
	w.f = nil
	cerr := old.Close()
	if err := w.open(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("rotate: %w", cerr)
	}
	return nil
}

// notify offers the text of every line of b to every subscriber; w.mu is held.
func (w *Writer) notify(b *batch) {
	if len(w.subs) == 0 {
		return
	}
	head := timeLen + 2 + len(b.stream)
	start := 0
	for _, end := range b.ends {
		text := string(b.out[start+head : end-1])
		for s := range w.subs {
			select {
			case s.ch <- text:
			default: // full: this subscriber loses the line
			}
		}
		start = end
	}
}

// rotatedName is PATH.k.
func rotatedName(path string, k int) string {
	return path + "." + strconv.Itoa(k)
}

// batch is the stored form of the lines of one read, built before the lock is
// taken: each record is "STAMP STREAM TEXT\n" with room left for the stamp.
type batch struct {
	stream string
	out    []byte
	ends   []int // end offset in out of each record, after its newline
}

func (b *batch) reset() {
	b.out, b.ends = b.out[:0], b.ends[:0]
}

// add appends one record whose text is text; the stamp is filled in by write.
func (b *batch) add(text []byte) {
	// One capacity check and copies rather than six appends: this runs per line.
	n := len(b.out)
	size := timeLen + 2 + len(b.stream) + len(text) + 1
	b.out = slices.Grow(b.out, size)[:n+size]
	p := b.out[n+timeLen:]
	p[0] = ' '
	k := 1 + copy(p[1:], b.stream)
	p[k] = ' '
	k += 1 + copy(p[k+1:], text)
	p[k] = '\n'
	b.ends = append(b.ends, len(b.out))
}

// split adds every complete line of p, and every 64 KiB piece of a line that is
// longer; with final it adds the rest too. It returns how many bytes of p it used.
func (b *batch) split(p []byte, final bool) int {
	used := 0
	for {
		rest := p[used:]
		i := bytes.IndexByte(rest, '\n')
		switch {
		case i >= 0 && i <= maxText:
			b.add(rest[:i])
			used += i + 1
		case len(rest) > maxText:
			cut := cutPoint(rest)
			b.add(rest[:cut])
			used += cut
		default:
			if final && len(rest) > 0 {
				b.add(rest)
				used = len(p)
			}
			return used
		}
	}
}

// cutPoint is where an overlong line is cut: at maxText, or up to three bytes
// earlier so that a UTF-8 character is not cut in two. len(p) > maxText.
func cutPoint(p []byte) int {
	for cut := maxText; cut > maxText-utf8.UTFMax; cut-- {
		if utf8.RuneStart(p[cut]) {
			return cut
		}
	}
	return maxText // not UTF-8 here: cut anywhere
}
