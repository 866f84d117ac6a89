package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBoard(t *testing.T) {
	var w strings.Builder
	b := &board{w: &w, index: map[string]int{}}
	b.show("db", "db starting")
	b.show("api", "api starting")
	b.show("db", "db running") // two lines up, rewritten, back below
	b.show("api", "api running")
	want := "db starting\napi starting\n" +
		"\x1b[2A\r\x1b[2Kdb running\x1b[2B\r" +
		"\x1b[1A\r\x1b[2Kapi running\x1b[1B\r"
	if diff := cmp.Diff(want, w.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
