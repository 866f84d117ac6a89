package logfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/logfile"
)

func TestTail(t *testing.T) {
	// As in TestRotationKeepsKeepFiles: lines 160 … 199 kept, ten per file.
	w, path := open(t, logfile.Options{MaxBytes: int64(10 * lineLen), Keep: 3})
	writeNumbered(t, w, 0, 200)

	tests := []struct {
		tail int
		want []string
	}{
		{0, numbered("line", 160, 200)},
		{1, numbered("line", 199, 200)},
		{10, numbered("line", 190, 200)}, // exactly PATH
		{11, numbered("line", 189, 200)},
		{25, numbered("line", 175, 200)}, // PATH.2, PATH.1, PATH
		{40, numbered("line", 160, 200)},
		{1000, numbered("line", 160, 200)},
	}
	for _, tt := range tests {
		got := readAll(t, path, logfile.ReadOptions{Tail: tt.tail})
		if diff := cmp.Diff(prefixed("harness ", tt.want), got); diff != "" {
			t.Errorf("Tail %d (-want +got):\n%s", tt.tail, diff)
		}
	}
}

// TestTailLargeFile reads a tail that spans several backward chunks, with lines
// cut by chunk boundaries, and a partial line being written at the end.
func TestTailLargeFile(t *testing.T) {
	w, path := open(t, logfile.Options{})
	var lines []string
	for i := range 20000 {
		lines = append(lines, fmt.Sprintf("%05d %s", i, strings.Repeat("x", i%97)))
	}
	if err := w.Drain("stdout", strings.NewReader(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("2026-11-28T01:02:03.123456789Z stdout being writ"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tail := range []int{1, 3000, 19999, 20000, 25000} {
		got := readAll(t, path, logfile.ReadOptions{Tail: tail})
		want := prefixed("stdout ", lines[max(0, len(lines)-tail):])
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Tail %d (-want +got):\n%.1000s", tail, diff)
		}
	}
}

// at is second s of a fixed minute.
func at(s int) time.Time {
	return time.Date(2026, 11, 28, 1, 2, 0, 0, time.UTC).Add(time.Duration(s) * time.Second)
}

// writeRaw writes stored lines stamped at the given seconds, text "s<sec>".
func writeRaw(t *testing.T, name string, secs ...int) {
	t.Helper()
	var b strings.Builder
	for _, s := range secs {
		fmt.Fprintf(&b, "%s stdout s%d\n", at(s).Format("2006-01-02T15:04:05.000000000Z"), s)
	}
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	writeRaw(t, path+".2", 1, 2, 3)
	writeRaw(t, path+".1", 4, 5, 5, 6)
	writeRaw(t, path, 6, 7, 8)
	all := []string{"s1", "s2", "s3", "s4", "s5", "s5", "s6", "s6", "s7", "s8"}
	tests := []struct {
		name string
		opts logfile.ReadOptions
		want []string
	}{
		{"no bound", logfile.ReadOptions{}, all},
		{"before all", logfile.ReadOptions{Since: at(0)}, all},
		{"at the first", logfile.ReadOptions{Since: at(1)}, all},
		{"at a line: included", logfile.ReadOptions{Since: at(5)}, all[4:]},
		{"between lines", logfile.ReadOptions{Since: at(5).Add(time.Nanosecond)}, all[6:]},
		{"across a file boundary", logfile.ReadOptions{Since: at(6)}, all[6:]},
		{"in the newest", logfile.ReadOptions{Since: at(8)}, all[9:]},
		{"after all", logfile.ReadOptions{Since: at(9)}, nil},
		{"with Tail, Tail shorter", logfile.ReadOptions{Since: at(3), Tail: 2}, all[8:]},
		{"with Tail, Since shorter", logfile.ReadOptions{Since: at(7), Tail: 5}, all[8:]},
	}
	for _, tt := range tests {
		var got []string
		err := logfile.Read(t.Context(), path, tt.opts, func(l logfile.Line) error {
			got = append(got, l.Text)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestReadMissingFile(t *testing.T) {
	got := readAll(t, filepath.Join(t.TempDir(), "no", "such.log"), logfile.ReadOptions{Tail: 5})
	if diff := cmp.Diff([]string(nil), got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
}

func TestReadStopsAtCallbackError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	writeRaw(t, path, 1, 2, 3)
	stop := errors.New("enough")
	var got []string
	err := logfile.Read(t.Context(), path, logfile.ReadOptions{Follow: true}, func(l logfile.Line) error {
		got = append(got, l.Text)
		if l.Text == "s2" {
			return stop
		}
		return nil
	})
	if diff := cmp.Diff([]string{"s1", "s2"}, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(true, err == stop); diff != "" { //nolint:errorlint // returned as it is
		t.Errorf("Read returned %v, want the callback's error as it is", err)
	}
}

func TestReadDamagedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	writeRaw(t, path, 1)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\x00\x00\x00 not a line\n")
	f.Close()
	var got []string
	err = logfile.Read(t.Context(), path, logfile.ReadOptions{}, func(l logfile.Line) error {
		got = append(got, l.Text)
		return nil
	})
	if diff := cmp.Diff([]string{"s1"}, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	want := fmt.Sprintf("read log %s at offset 41: parse line", path)
	if diff := cmp.Diff(true, err != nil && strings.HasPrefix(err.Error(), want)); diff != "" {
		t.Errorf("Read returned %v, want %q…", err, want)
	}
}

// TestFollowAcrossRotations runs a writer and a follower at the same time: the
// follower must see every line once, in order, across the rotations.
func TestFollowAcrossRotations(t *testing.T) {
	tests := []struct {
		name  string
		lines int
		opts  logfile.Options
	}{
		// Two rotations: the follower never falls Keep rotations behind.
		{"two rotations", 10000, logfile.Options{MaxBytes: 200 << 10, Keep: 3}},
		// A rotation every six lines, hundreds between two polls and some while
		// the follower looks at the chain: the successor of the file it holds must
		// be found however far the chain moved. Keep is large enough that nothing
		// is dropped before the follower reads it.
		{"many rotations", 2000, logfile.Options{MaxBytes: 300, Keep: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, path := open(t, tt.opts)
			want := prefixed("stdout ", numbered("line", 0, tt.lines))

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var got []string
			var wg sync.WaitGroup
			var readErr error
			wg.Go(func() {
				readErr = logfile.Read(ctx, path, logfile.ReadOptions{Follow: true}, func(l logfile.Line) error {
					got = append(got, l.Stream+" "+l.Text)
					if len(got) == len(want) {
						cancel()
					}
					return nil
				})
			})
			// Written in small pieces, one write each, so that rotations fall
			// between any two lines and happen while the follower reads.
			in := strings.Join(numbered("line", 0, tt.lines), "\n") + "\n"
			if err := w.Drain("stdout", &pieces{s: in, n: 37}); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if readErr != nil {
				t.Fatal(readErr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("followed (-want +got):\n%.2000s", diff)
			}
			rotated, _ := filepath.Glob(path + ".*")
			if diff := cmp.Diff(true, len(rotated) >= 2); diff != "" {
				t.Errorf("rotated files %v: want at least two rotations", rotated)
			}
		})
	}
}

// TestFollowStartsWithStoredLines: Tail applies to what is stored, then
// everything new follows.
func TestFollowStartsWithStoredLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, path := open(t, logfile.Options{MaxBytes: int64(10 * lineLen), Keep: 3})
		writeNumbered(t, w, 0, 15)
		got := follow(t, path, logfile.ReadOptions{Tail: 3, Follow: true})
		synctest.Wait()
		writeNumbered(t, w, 15, 40) // two more rotations
		time.Sleep(time.Second)     // the follower polls meanwhile
		synctest.Wait()
		want := prefixed("harness ", numbered("line", 12, 40))
		if diff := cmp.Diff(want, got()); diff != "" {
			t.Errorf("followed (-want +got):\n%s", diff)
		}
	})
}

// TestFollowFileCreatedLater follows a log whose directory does not exist yet.
func TestFollowFileCreatedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logs", "shop", "api.log")
		got := follow(t, path, logfile.ReadOptions{Tail: 1, Follow: true})
		time.Sleep(time.Second) // the follower polls for the file meanwhile
		synctest.Wait()

		w, err := logfile.Open(path, logfile.Options{MaxBytes: int64(10 * lineLen), Keep: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		// Rotated before the follower looks again: it must start at the oldest file.
		writeNumbered(t, w, 0, 25)
		time.Sleep(time.Second)
		synctest.Wait()
		want := prefixed("harness ", numbered("line", 0, 25))
		if diff := cmp.Diff(want, got()); diff != "" {
			t.Errorf("followed (-want +got):\n%s", diff)
		}
	})
}

// TestFollowPartialLine: a line is delivered once its newline is there.
func TestFollowPartialLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "api.log")
		writeRaw(t, path, 1)
		got := follow(t, path, logfile.ReadOptions{Follow: true})
		synctest.Wait()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stamp := at(2).Format("2006-01-02T15:04:05.000000000Z")
		f.WriteString(stamp + " stdout ha")
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]string{"stdout s1"}, got()); diff != "" {
			t.Errorf("before the newline (-want +got):\n%s", diff)
		}
		f.WriteString("lf\n")
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]string{"stdout s1", "stdout half"}, got()); diff != "" {
			t.Errorf("after the newline (-want +got):\n%s", diff)
		}
		// Without Follow, a partial line is not delivered.
		f.WriteString(stamp + " stdout partial")
		if diff := cmp.Diff([]string{"stdout s1", "stdout half"}, readAll(t, path, logfile.ReadOptions{})); diff != "" {
			t.Errorf("Read without Follow (-want +got):\n%s", diff)
		}
	})
}

// follow runs Read with opts in the background until the test ends; the
// returned function gives what it delivered so far, as "STREAM TEXT".
func follow(t *testing.T, path string, opts logfile.ReadOptions) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- logfile.Read(ctx, path, opts, func(l logfile.Line) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, l.Stream+" "+l.Text)
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Read with Follow returned %v at the end, want nil", err)
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}
