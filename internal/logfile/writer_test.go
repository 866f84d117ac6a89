package logfile_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/logfile"
)

// open opens a Writer on a fresh path and closes it when the test ends.
func open(t *testing.T, opts logfile.Options) (*logfile.Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logs", "shop", "api.log")
	w, err := logfile.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

// readAll returns what Read delivers, each line as "STREAM TEXT".
func readAll(t *testing.T, path string, opts logfile.ReadOptions) []string {
	t.Helper()
	var got []string
	err := logfile.Read(t.Context(), path, opts, func(l logfile.Line) error {
		got = append(got, l.Stream+" "+l.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// numbered returns "PREFIX 00000" … for n lines, each of the same length.
func numbered(prefix string, from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("%s %05d", prefix, i))
	}
	return s
}

func TestDrainRoundTrip(t *testing.T) {
	w, path := open(t, logfile.Options{})
	if err := w.Note("started pid %d", 42); err != nil {
		t.Fatal(err)
	}
	in := "first\n\n  indented\tand tabbed \r\ncafé \xff\xfe not UTF-8\nlast without newline"
	if err := w.Drain("stdout", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if err := w.Note("exited with status %d\nsecond line of a note\n", 1); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"harness started pid 42",
		"stdout first",
		"stdout ",
		"stdout   indented\tand tabbed \r",
		"stdout café \xff\xfe not UTF-8",
		"stdout last without newline",
		"harness exited with status 1",
		"harness second line of a note",
	}
	if diff := cmp.Diff(want, readAll(t, path, logfile.ReadOptions{})); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

// TestFormat checks the bytes on disk: a fixed-width UTC stamp with nine digits,
// the stream, the text.
func TestFormat(t *testing.T) {
	w, path := open(t, logfile.Options{})
	before := time.Now()
	if err := w.Drain("stderr", strings.NewReader("the text\n")); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := string(raw)
	stamp, rest, _ := strings.Cut(line, " ")
	stamped, err := time.Parse("2006-01-02T15:04:05.000000000Z", stamp)
	type shape struct {
		StampLen int
		Parsed   bool
		InRange  bool // taken during the Drain
		Rest     string
	}
	want := shape{StampLen: 30, Parsed: true, InRange: true, Rest: "stderr the text\n"}
	got := shape{StampLen: len(stamp), Parsed: err == nil, Rest: rest,
		InRange: !stamped.Before(before) && !stamped.After(after)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored line %q (-want +got):\n%s", line, diff)
	}
}

func TestConcurrentDrainsNeverInterleave(t *testing.T) {
	w, path := open(t, logfile.Options{Keep: 100})
	// Long lines of varying length, written in odd pieces, so that lines span many
	// reads and both streams are in the middle of a line most of the time.
	lines := func(stream string) []string {
		var s []string
		for i := range 150 {
			s = append(s, fmt.Sprintf("%s %04d %s", stream, i, strings.Repeat(stream[3:4], 1000+i*397%60000)))
		}
		return s
	}
	want := map[string][]string{"stdout": lines("stdout"), "stderr": lines("stderr")}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for stream, ls := range want {
		r, pw := io.Pipe()
		wg.Go(func() { errs <- w.Drain(stream, r) })
		wg.Go(func() {
			all := strings.Join(ls, "\n") + "\n"
			for len(all) > 0 {
				n := min(len(all), 7919)
				if _, err := io.WriteString(pw, all[:n]); err != nil {
					errs <- err
					return
				}
				all = all[n:]
			}
			errs <- pw.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][]string{}
	err := logfile.Read(t.Context(), path, logfile.ReadOptions{}, func(l logfile.Line) error {
		got[l.Stream] = append(got[l.Stream], l.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines per stream (-want +got):\n%.2000s", diff)
	}
}

func TestLongLinesSplit(t *testing.T) {
	const maxText = 64 << 10
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"exactly 64 KiB", a(maxText) + "\n", []string{a(maxText)}},
		{"one byte more", a(maxText) + "b\n", []string{a(maxText), "b"}},
		{"three and a bit", a(3*maxText+5) + "\nnext\n", []string{a(maxText), a(maxText), a(maxText), a(5), "next"}},
		{"without newline", a(maxText + 1), []string{a(maxText), "a"}},
		// é is two bytes at 65535 and 65536: the cut moves before it.
		{"UTF-8 kept whole", a(maxText-1) + "é" + "xyz\n", []string{a(maxText - 1), "éxyz"}},
		// 𝄞 is four bytes at 65533 … 65536.
		{"four-byte character", a(maxText-3) + "𝄞" + "!\n", []string{a(maxText - 3), "𝄞!"}},
		// Not UTF-8: continuation bytes only, cut at 64 KiB.
		{"not UTF-8", strings.Repeat("\x80", maxText+2) + "\n", []string{strings.Repeat("\x80", maxText), "\x80\x80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, path := open(t, logfile.Options{})
			// One byte at a time would be slow; odd pieces exercise the carry-over.
			if err := w.Drain("stdout", &pieces{s: tt.in, n: 10007}); err != nil {
				t.Fatal(err)
			}
			var got []string
			err := logfile.Read(t.Context(), path, logfile.ReadOptions{}, func(l logfile.Line) error {
				got = append(got, l.Text)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(summary(tt.want), summary(got)); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			for _, l := range got {
				if len(l) > maxText {
					t.Errorf("a stored line has %d bytes of text", len(l))
				}
			}
		})
	}
}

// summary shortens long lines for a readable diff: length, validity, ends.
func summary(lines []string) []string {
	var s []string
	for _, l := range lines {
		s = append(s, fmt.Sprintf("%d utf8=%v %.8q…%q", len(l), utf8.ValidString(l), l, l[max(0, len(l)-8):]))
	}
	return s
}

// pieces is a reader that returns at most n bytes per Read.
type pieces struct {
	s string
	n int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.s) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), p.n)], p.s)
	p.s = p.s[n:]
	return n, nil
}

func TestPartialLastLine(t *testing.T) {
	w, path := open(t, logfile.Options{})
	if err := w.Drain("stdout", strings.NewReader("one\ntwo")); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain("stderr", strings.NewReader("three")); err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout one", "stdout two", "stderr three"}
	if diff := cmp.Diff(want, readAll(t, path, logfile.ReadOptions{})); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

// lineLen is the stored length of a Note of numbered("line", …).
const lineLen = 30 + len(" harness line 00000\n")

// writeNumbered writes numbered("line", from, to) as notes, one line per write.
func writeNumbered(t *testing.T, w *logfile.Writer, from, to int) {
	t.Helper()
	for _, s := range numbered("line", from, to) {
		if err := w.Note("%s", s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRotationKeepsKeepFiles(t *testing.T) {
	// Ten lines fill a file exactly; 200 lines make 20 files, of which PATH and
	// PATH.1 … PATH.3 are kept: the last 40 lines.
	w, path := open(t, logfile.Options{MaxBytes: int64(10 * lineLen), Keep: 3})
	writeNumbered(t, w, 0, 200)

	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fmt.Sprintf("%s %d", e.Name(), info.Size()))
	}
	want := []string{"api.log 500", "api.log.1 500", "api.log.2 500", "api.log.3 500"}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	wantLines := prefixed("harness ", numbered("line", 160, 200))
	if diff := cmp.Diff(wantLines, readAll(t, path, logfile.ReadOptions{})); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

func TestRotationLineLargerThanMaxBytes(t *testing.T) {
	w, path := open(t, logfile.Options{MaxBytes: 100, Keep: 5})
	big := strings.Repeat("x", 300)
	in := "a\n" + big + "\nb\n"
	if err := w.Drain("stdout", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	sizes := func(name string) int64 {
		fi, err := os.Stat(name)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	// "a" alone, then the big line alone in a file, then "b": nothing split.
	want := []int64{40, 339, 40, -1}
	got := []int64{sizes(path + ".2"), sizes(path + ".1"), sizes(path), sizes(path + ".3")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sizes of PATH.2, PATH.1, PATH, PATH.3 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"stdout a", "stdout " + big, "stdout b"}, readAll(t, path, logfile.ReadOptions{})); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

func prefixed(p string, s []string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = p + s[i]
	}
	return out
}

func TestOpenContinuesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	// A crash left a torn line, stamped in the future (the clock stepped back since).
	torn := "2099-01-01T00:00:00.000000000Z stdout half a li"
	if err := os.WriteFile(path, []byte("2099-01-01T00:00:00.000000000Z stdout whole\n"+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := logfile.Open(path, logfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Note("restarted"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = logfile.Read(t.Context(), path, logfile.ReadOptions{}, func(l logfile.Line) error {
		got = append(got, l.Time.Format(time.RFC3339)+" "+l.Stream+" "+l.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2099-01-01T00:00:00Z stdout whole",
		"2099-01-01T00:00:00Z stdout half a li",
		"2099-01-01T00:00:00Z harness restarted", // never before the last stamp
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

// The files beyond Keep (left by a larger Keep) go at the first rotation, not at Open.
func TestRotationRemovesFilesBeyondKeep(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api.log")
	for _, name := range []string{"api.log.1", "api.log.2", "api.log.3", "api.log.7", "api.log.old", "db.log.9"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := logfile.Open(path, logfile.Options{Keep: 2, MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second line does not fit: one rotation
		if err := w.Note("%s", strings.Repeat("x", 60)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"api.log", "api.log.1", "api.log.2", "api.log.old", "db.log.9"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestWriteAfterClose(t *testing.T) {
	w, _ := open(t, logfile.Options{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, subErr := w.Subscribe(t.Context())
	got := []bool{
		w.Note("late") != nil,
		w.Drain("stdout", strings.NewReader("late\n")) != nil,
		subErr != nil,
		w.Drain("std out", strings.NewReader("")) != nil, // a bad stream tag
	}
	if diff := cmp.Diff([]bool{true, true, true, true}, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := open(t, logfile.Options{})
		if err := w.Note("before"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		ch, err := w.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Drain("stdout", strings.NewReader("one\ntwo\n")); err != nil {
			t.Fatal(err)
		}
		if err := w.Note("three"); err != nil {
			t.Fatal(err)
		}
		cancel()
		var got []string
		for s := range ch { // closed by the cancel
			got = append(got, s)
		}
		if diff := cmp.Diff([]string{"one", "two", "three"}, got); diff != "" {
			t.Errorf("received (-want +got):\n%s", diff)
		}
	})
}

func TestSubscriberThatDoesNotKeepUpLosesLines(t *testing.T) {
	w, _ := open(t, logfile.Options{})
	ch, err := w.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Nobody receives; the writer must not wait.
	in := strings.Join(numbered("line", 0, 5000), "\n") + "\n"
	if err := w.Drain("stdout", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // closes the channel
		t.Fatal(err)
	}
	var got []string
	for s := range ch {
		got = append(got, s)
	}
	if diff := cmp.Diff(numbered("line", 0, 1024), got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

// TestDrainPipeDoesNotBlockWriter pushes 20 MB through an os.Pipe: the writing
// side finishes (Drain keeps the pipe empty), and every byte is in the files.
func TestDrainPipeDoesNotBlockWriter(t *testing.T) {
	w, path := open(t, logfile.Options{Keep: 10})
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	drained := make(chan error, 1)
	go func() { drained <- w.Drain("stdout", r) }()

	line := strings.Repeat("0123456789", 7) + "abcdefghi\n" // 80 bytes
	chunk := strings.Repeat(line, 1000)
	const total = 20 << 20
	in := sha256.New()
	start := time.Now()
	written := 0
	wrote := make(chan error, 1)
	go func() {
		defer pw.Close()
		for written < total {
			n, err := io.WriteString(pw, chunk)
			in.Write([]byte(chunk[:n]))
			written += n
			if err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	// A liveness bound, not a timing: a writer blocked on a pipe nobody drains
	// would wait forever.
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		r.Close() // unblocks the writer with EPIPE
		<-wrote
		t.Fatalf("the pipe writer is still blocked after a minute, %d of %d bytes written", written, total)
	}
	elapsed := time.Since(start)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d bytes into the pipe in %v (%.0f MB/s)", written, elapsed, float64(written)/elapsed.Seconds()/1e6)

	out := sha256.New()
	lines := 0
	err = logfile.Read(t.Context(), path, logfile.ReadOptions{}, func(l logfile.Line) error {
		out.Write([]byte(l.Text + "\n"))
		lines++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		Lines int
		Sum   string
	}
	want := result{Lines: written / len(line), Sum: fmt.Sprintf("%x", in.Sum(nil))}
	got := result{Lines: lines, Sum: fmt.Sprintf("%x", out.Sum(nil))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored output (-want +got):\n%s", diff)
	}
	names, _ := filepath.Glob(path + "*")
	slices.Sort(names)
	if diff := cmp.Diff(true, len(names) > 1); diff != "" {
		t.Errorf("20 MB did not rotate: %v", names)
	}
}

// blocking delivers its chunks (one in several Reads when it does not fit), and before
// each chunk fails once with errBlock, as a non-blocking pipe that is empty for a moment does; then EOF.
type blocking struct {
	chunks  []string
	blocked bool
}

var errBlock = fmt.Errorf("would block")

func (b *blocking) Read(p []byte) (int, error) {
	if len(b.chunks) == 0 {
		return 0, io.EOF
	}
	if !b.blocked {
		b.blocked = true
		return 0, errBlock
	}
	n := copy(p, b.chunks[0])
	b.chunks[0] = b.chunks[0][n:]
	if b.chunks[0] == "" {
		b.chunks, b.blocked = b.chunks[1:], false
	}
	return n, nil
}

// TestDrainerResumes: a line cut by a read that would block is stored whole by the next
// Drain, a line longer than the first buffer too, and the last line at EOF.
func TestDrainerResumes(t *testing.T) {
	w, path := open(t, logfile.Options{})
	d, err := w.Drainer("stderr")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 3000)
	r := &blocking{chunks: []string{"one\ntw", "o\nthr", "ee\n" + long[:100], long[100:] + "\n", "last"}}
	drains := 0
	for {
		drains++
		rerr, serr := d.Drain(r)
		if serr != nil {
			t.Fatal(serr)
		}
		if rerr == nil {
			break
		}
		if rerr != errBlock {
			t.Fatalf("Drain: %v, want %v", rerr, errBlock)
		}
	}
	want := []string{"stderr one", "stderr two", "stderr three", "stderr " + long, "stderr last"}
	if diff := cmp.Diff(want, readAll(t, path, logfile.ReadOptions{})); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(6, drains); diff != "" {
		t.Errorf("Drain calls (-want +got):\n%s", diff)
	}
}

// TestDrainerKeepsReadingAfterStoreError: once the log cannot be written, a Drainer
// reports it and reads on to the end, dropping what it reads, so that the writer of the
// stream never blocks.
func TestDrainerKeepsReadingAfterStoreError(t *testing.T) {
	w, _ := open(t, logfile.Options{})
	d, err := w.Drainer("stdout")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := strings.NewReader(strings.Repeat("a line\n", 10000))
	rerr, serr := d.Drain(r)
	if rerr != nil || serr == nil {
		t.Fatalf("Drain = %v, %v; want nil, an error storing", rerr, serr)
	}
	if diff := cmp.Diff(0, r.Len()); diff != "" {
		t.Errorf("bytes left unread (-want +got):\n%s", diff)
	}
}
