package lifecycle

import (
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestDocDrawings checks the drawings and transition lists of doc.go against the tables that
// CanTransition reads: every value appears in its drawing, and the list under the drawing
// names exactly the legal transitions, each once.
func TestDocDrawings(t *testing.T) {
	doc := packageDoc(t)
	t.Run("states", func(t *testing.T) {
		checkDrawing(t, doc, states, "# State machine", "Transitions:", "# Health machine")
	})
	t.Run("healths", func(t *testing.T) {
		checkDrawing(t, doc, healths, "# Health machine", "Health transitions:", "")
	})
}

// checkDrawing checks against m the drawing between the lines heading and listAfter of doc, and
// the list between the lines listAfter and next ("" for the end of doc).
func checkDrawing[T ~string](t *testing.T, doc string, m machine[T], heading, listAfter, next string) {
	t.Helper()
	drawing := codeBlock(t, doc, heading, listAfter)
	words := map[string]bool{}
	for _, line := range drawing {
		for _, w := range strings.FieldsFunc(line, func(r rune) bool { return !unicode.IsLetter(r) }) {
			words[w] = true
		}
	}
	for _, v := range m.values() {
		if !words[string(v)] {
			t.Errorf("the drawing after %q does not show %s", heading, v)
		}
	}

	var want []string
	for _, r := range m {
		for _, to := range r.to {
			want = append(want, string(r.from)+" → "+string(to))
		}
	}
	var got []string
	for _, line := range codeBlock(t, doc, listAfter, next) {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "→" {
			t.Errorf("the list after %q has %q, want FROM → TO [reason]", listAfter, strings.TrimSpace(line))
			continue
		}
		got = append(got, f[0]+" → "+f[2])
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(strings.Compare)); diff != "" {
		t.Errorf("the list after %q does not match the table (-table +doc):\n%s", listAfter, diff)
	}
}

// packageDoc returns the text of the package doc comment in doc.go, as go/ast gives it:
// comment markers removed, so that the lines of a code block start with a tab.
func packageDoc(t *testing.T) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		t.Fatal("doc.go has no package doc comment")
	}
	return f.Doc.Text()
}

// codeBlock returns the lines of the code block (indented lines) that lies between the line
// after and the line before of the package doc; an empty before means the end of the doc. It
// fails the test unless there is exactly one such block, so that a drawing that went missing
// cannot be stood in for by its neighbor.
func codeBlock(t *testing.T, doc, after, before string) []string {
	t.Helper()
	lines := strings.Split(doc, "\n")
	start := slices.Index(lines, after)
	if start < 0 {
		t.Fatalf("the package doc has no line %q", after)
	}
	lines = lines[start+1:]
	if before != "" {
		end := slices.Index(lines, before)
		if end < 0 {
			t.Fatalf("the package doc has no line %q after the line %q", before, after)
		}
		lines = lines[:end]
	}
	var blocks [][]string
	for i, line := range lines {
		if !strings.HasPrefix(line, "\t") {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "\t") {
			blocks = append(blocks, nil)
		}
		blocks[len(blocks)-1] = append(blocks[len(blocks)-1], line)
	}
	if len(blocks) != 1 {
		t.Fatalf("the package doc has %d code blocks between %q and %q, want 1", len(blocks), after, before)
	}
	return blocks[0]
}
