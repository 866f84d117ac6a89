package image

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/jsonstream"
)

func TestProgress(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var lines []string
	p := newProgress("pulling app:1", func(l string) { lines = append(lines, l) }, func() time.Time { return now })
	down := func(id string, cur, total int64) message {
		return message{Status: "Downloading", ID: id, Progress: &jsonstream.Progress{Current: cur, Total: total}}
	}
	for _, step := range []struct {
		after time.Duration
		m     message
	}{
		{0, message{Status: "Pulling fs layer", ID: "aaa"}},
		{0, message{Status: "Pulling fs layer", ID: "bbb"}},
		{300 * time.Millisecond, down("aaa", 1_000_000, 45_600_000)}, // too soon for aaa
		{0, message{Status: "Waiting", ID: "ccc"}},
		{800 * time.Millisecond, down("aaa", 12_300_000, 45_600_000)},
		{0, down("bbb", 512, 900)},
		{100 * time.Millisecond, down("aaa", 13_000_000, 45_600_000)}, // too soon again
		{time.Second, message{Status: "Pull complete", ID: "aaa"}},
		{0, down("bbb", 2_500_000_000, 3_000_000_000)},
		{0, message{Status: "Downloading", ID: "ccc", Progress: &jsonstream.Progress{Current: 1, Total: 2, HideCounts: true}}},
		{0, message{Status: "Digest: sha256:0123"}},
		{0, message{Status: "Status: Downloaded newer image for app:1"}},
		{0, message{Stream: "not a status"}},
	} {
		now = now.Add(step.after)
		p.update(step.m)
	}
	want := []string{
		"pulling app:1: aaa: Pulling fs layer",
		"pulling app:1: bbb: Pulling fs layer",
		"pulling app:1: ccc: Waiting",
		"pulling app:1: aaa: Downloading 12.3/45.6 MB",
		"pulling app:1: bbb: Downloading 512/900 B",
		"pulling app:1: aaa: Pull complete",
		"pulling app:1: bbb: Downloading 2.5/3.0 GB",
		"pulling app:1: ccc: Downloading",
		"pulling app:1: Digest: sha256:0123",
		"pulling app:1: Status: Downloaded newer image for app:1",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestAmount(t *testing.T) {
	for _, tc := range []struct {
		cur, total int64
		want       string
	}{
		{0, 999, "0/999 B"},
		{1000, 1000, "1.0/1.0 kB"},
		{12_345_678, 45_600_000, "12.3/45.6 MB"},
		{5, 7_000_000_000_000_000, "0.0/7000.0 TB"},
	} {
		if got := amount(tc.cur, tc.total); got != tc.want {
			t.Errorf("amount(%d, %d) = %q, want %q", tc.cur, tc.total, got, tc.want)
		}
	}
}
