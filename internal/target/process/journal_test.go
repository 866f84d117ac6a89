package process

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testJournal(t *testing.T, dir string) *journal {
	j := newJournal(dir, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { j.close() })
	return j
}

// journalFiles lists the journal files of dir.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+journalSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// ids returns the IDs that lookup finds among want.
func ids(j *journal, want ...string) []string {
	var found []string
	for _, id := range want {
		if _, ok := j.lookup(id); ok {
			found = append(found, id)
		}
	}
	return found
}

func TestJournalAcrossTargets(t *testing.T) {
	dir := t.TempDir()
	a, b := testJournal(t, dir), testJournal(t, dir)
	for _, id := range []string{"1:1", "2:2"} {
		if err := a.add(record{ID: id, StopSignal: "SIGINT", LogPath: "/log/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := b.lookup("1:1")
	if diff := cmp.Diff(true, ok); diff != "" {
		t.Fatalf("lookup by another journal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("SIGINT /log/1:1", got.StopSignal+" "+got.LogPath); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	// b tombstones a record of a; a new reader sees it removed.
	if err := b.remove("2:2"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1:1"}, ids(testJournal(t, dir), "1:1", "2:2")); diff != "" {
		t.Errorf("live records (-want +got):\n%s", diff)
	}
	// Removing what no journal knows writes nothing.
	if err := testJournal(t, dir).remove("9:9"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(2, len(journalFiles(t, dir))); diff != "" {
		t.Errorf("journal files (-want +got):\n%s", diff)
	}
}

func TestJournalFoldsGoneTargets(t *testing.T) {
	dir := t.TempDir()
	live, gone := testJournal(t, dir), testJournal(t, dir)
	for _, r := range []struct {
		j  *journal
		id string
	}{{live, "1:1"}, {live, "2:2"}, {gone, "3:3"}, {gone, "4:4"}} {
		if err := r.j.add(record{ID: r.id, StopSignal: "SIGTERM"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.remove("4:4"); err != nil { // its own record: dropped with the fold
		t.Fatal(err)
	}
	if err := gone.remove("2:2"); err != nil { // a record of live: the tombstone is carried
		t.Fatal(err)
	}
	// A journal of another boot, and a damaged line.
	other := filepath.Join(dir, "1-other"+journalSuffix)
	if err := os.WriteFile(other, []byte(`{"id":"5:5","boot":"another boot"}`+"\n{\"id\":\"6:6\",\"bo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	liveName := live.ownName
	if err := gone.close(); err != nil {
		t.Fatal(err)
	}

	next := testJournal(t, dir)
	if err := next.add(record{ID: "7:7"}); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Base(liveName), filepath.Base(next.ownName)}
	slices.Sort(want)
	if diff := cmp.Diff(want, journalFiles(t, dir)); diff != "" {
		t.Errorf("journal files after the fold (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(next.ownName)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range parseJournal(b) {
		lines = append(lines, r.ID+" removed="+strconv.FormatBool(r.Removed))
	}
	slices.Sort(lines)
	if diff := cmp.Diff([]string{"2:2 removed=true", "3:3 removed=false", "7:7 removed=false"}, lines); diff != "" {
		t.Errorf("the next journal (-want +got):\n%s", diff)
	}
	all := []string{"1:1", "2:2", "3:3", "4:4", "5:5", "6:6", "7:7"}
	if diff := cmp.Diff([]string{"1:1", "3:3", "7:7"}, ids(testJournal(t, dir), all...)); diff != "" {
		t.Errorf("live records (-want +got):\n%s", diff)
	}
}

func TestJournalRewrite(t *testing.T) {
	dir := t.TempDir()
	j := testJournal(t, dir)
	if err := j.add(record{ID: "0:0"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= rewriteAfter/2; i++ {
		id := strconv.Itoa(i) + ":1"
		if err := j.add(record{ID: id}); err != nil {
			t.Fatal(err)
		}
		if err := j.remove(id); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(j.ownName)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, r := range parseJournal(b) {
		kept = append(kept, r.ID)
	}
	if diff := cmp.Diff([]string{"0:0"}, kept); diff != "" {
		t.Errorf("records of the rewritten journal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{filepath.Base(j.ownName)}, journalFiles(t, dir)); diff != "" {
		t.Errorf("journal files (-want +got):\n%s", diff)
	}
	if err := j.add(record{ID: "x:1"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"0:0", "x:1"}, ids(testJournal(t, dir), "0:0", "1:1", "x:1")); diff != "" {
		t.Errorf("live records (-want +got):\n%s", diff)
	}
}
