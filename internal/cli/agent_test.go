package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The oldest installed binaries go; the running one and the most recent others stay, and so
// does anything that is not an installed binary.
func TestPruneBinaries(t *testing.T) {
	bin := filepath.Join(t.TempDir(), ".harness", "bin")
	t0 := time.Now().Add(-time.Hour)
	install := func(name string, age int) string {
		p := filepath.Join(bin, name, "harness")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o755); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(age) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	install("v1-aaaaaaaa", 1)
	install("v2-bbbbbbbb", 2)
	install("v3-cccccccc", 3)
	install("v4-dddddddd", 4)
	running := install("v0-eeeeeeee", 0) // the oldest, but it runs
	if err := os.MkdirAll(filepath.Join(bin, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	pruneBinaries(running, 3)
	entries, _ := os.ReadDir(bin)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	slices.Sort(left)
	if diff := cmp.Diff([]string{"notes", "v0-eeeeeeee", "v3-cccccccc", "v4-dddddddd"}, left); diff != "" {
		t.Errorf("left in bin (-want +got):\n%s", diff)
	}
	// A binary outside ~/.harness/bin prunes nothing.
	pruneBinaries(filepath.Join(t.TempDir(), "harness"), 1)
	pruneBinaries(filepath.Join(bin, "v3-cccccccc", "other"), 1)
	if entries, _ := os.ReadDir(bin); len(entries) != 4 {
		t.Errorf("%d entries left, want 4", len(entries))
	}
}
