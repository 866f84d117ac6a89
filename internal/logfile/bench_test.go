package logfile_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graph-network-harness/harness/internal/logfile"
)

// benchOutput is 8 MiB of 80-byte lines, as a chatty service prints them.
func benchOutput() []byte {
	line := strings.Repeat("0123456789", 7) + "abcdefghi\n"
	return bytes.Repeat([]byte(line), 8<<20/len(line))
}

// BenchmarkDrain stores 80-byte lines with default options (rotation included).
// MB/s counts the service's bytes; the file receives about 48% more (the stamp
// and the stream tag). Compare with BenchmarkFloorCopy.
func BenchmarkDrain(b *testing.B) {
	data := benchOutput()
	w, err := logfile.Open(filepath.Join(b.TempDir(), "api.log"), logfile.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Drain("stdout", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorCopy is the floor for BenchmarkDrain: the same bytes copied to a
// file by io.Copy (32 KiB at a time), untouched, the file truncated each time.
func BenchmarkFloorCopy(b *testing.B) {
	data := benchOutput()
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "api.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Truncate(0); err != nil {
			b.Fatal(err)
		}
		// Hide bytes.Reader's WriteTo, which would write all 8 MiB in one call.
		if _, err := io.Copy(f, struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadTail reads the last 100 lines of a full 10 MiB file and its three
// rotated files: the cost of `harness logs -n 100`, independent of the file size.
func BenchmarkReadTail(b *testing.B) {
	path := filepath.Join(b.TempDir(), "api.log")
	w, err := logfile.Open(path, logfile.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := benchOutput()
	for range 5 {
		if err := w.Drain("stdout", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := logfile.Read(b.Context(), path, logfile.ReadOptions{Tail: 100}, func(logfile.Line) error {
			n++
			return nil
		})
		if err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkReadAll reads every stored line of 8 MiB of output.
func BenchmarkReadAll(b *testing.B) {
	path := filepath.Join(b.TempDir(), "api.log")
	w, err := logfile.Open(path, logfile.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	data := benchOutput()
	if err := w.Drain("stdout", bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	w.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		err := logfile.Read(b.Context(), path, logfile.ReadOptions{}, func(logfile.Line) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}
