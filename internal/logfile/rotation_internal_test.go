package logfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests act at the one moment a follower cannot be caught from outside: it
// has read the newest file it knows to the end and is about to look for a
// rotation. The writer writes and rotates exactly then.

// storedLen is the stored length of a note "line NNNNN".
const storedLen = int64(timeLen + len(" harness line 00000\n"))

func notes(t *testing.T, w *Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := w.Note("line %05d", i); err != nil {
			t.Fatal(err)
		}
	}
}

func lines(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("line %05d", i))
	}
	return s
}

// followAt follows path until it has n lines, calling atEnd at each end.
func followAt(t *testing.T, path string, n int, atEnd func(call int)) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []string
	calls := 0
	err := read(ctx, path, ReadOptions{Follow: true}, func(l Line) error {
		got = append(got, l.Text)
		if len(got) == n {
			cancel()
		}
		return nil
	}, func() {
		calls++
		atEnd(calls)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFollowDrainsRotatedFile: lines written to the file after the follower read
// its end, just before it was rotated, are delivered before the new file's.
func TestFollowDrainsRotatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	w, err := Open(path, Options{MaxBytes: 20 * storedLen, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	notes(t, w, 0, 10)
	got := followAt(t, path, 21, func(call int) {
		if call == 1 {
			notes(t, w, 10, 21) // 10 … 19 fill the file; 20 rotates it
		}
	})
	if diff := cmp.Diff(lines(0, 21), got); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
}

// TestFollowFallenBehind: a follower more than Keep rotations behind finishes the
// file it holds, then continues at the oldest file kept.
func TestFollowFallenBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	w, err := Open(path, Options{MaxBytes: 10 * storedLen, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	notes(t, w, 0, 6)
	got := followAt(t, path, 31, func(call int) {
		if call == 1 {
			// Files 0-9 (held by the follower, then dropped), 10-19, 20-29,
			// 30-39 (dropped), 40-49 (PATH.2), 50-59 (PATH.1), 60 (PATH).
			notes(t, w, 6, 61)
		}
	})
	want := append(lines(0, 10), lines(40, 61)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
}

// TestFollowFileRemovedByHand: PATH is removed while it is written and followed;
// the writer goes on into the removed file, then rotates. The follower finishes
// the removed file and does not read the older files again.
func TestFollowFileRemovedByHand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	w, err := Open(path, Options{MaxBytes: 10 * storedLen, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	notes(t, w, 0, 15) // PATH.1: 0-9, PATH: 10-14
	got := followAt(t, path, 25, func(call int) {
		if call == 1 {
			if err := os.Remove(path); err != nil {
				t.Error(err)
			}
			notes(t, w, 15, 25) // 15-19 into the removed file; PATH: 20-24
		}
	})
	if diff := cmp.Diff(lines(0, 25), got); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
}
