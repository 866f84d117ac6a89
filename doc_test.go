package harness_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPackageDocs enforces house rule 6 on every package of the module: exactly one non-test
// file carries the package doc comment (by convention doc.go), and it starts with
// "Package NAME " ("Command " for a main package). All .go files of the directory count, also
// those a build constraint leaves out, because godoc reads them all. A directory of tests only
// (no non-test file) is not checked: godoc has nothing to show for it.
func TestPackageDocs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	type listed struct{ ImportPath, Dir, Name string }
	dec := json.NewDecoder(bytes.NewReader(goList(t, "-json=ImportPath,Dir,Name", "./...")))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		rel, err := filepath.Rel(wd, p.Dir)
		if err != nil {
			rel = p.Dir
		}
		for _, problem := range packageDocProblems(t, p.Dir, p.Name) {
			t.Errorf("%s: %s", rel, problem)
		}
	}
}

// packageDocProblems returns what is wrong with the package doc comments of the package name in
// dir: none, several, or one that does not start as godoc expects.
func packageDocProblems(t *testing.T, dir, name string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	want := "Package " + name + " "
	if name == "main" {
		want = "Command "
	}
	var withDoc, problems []string
	fset := token.NewFileSet()
	sources := slices.DeleteFunc(files, func(path string) bool { return strings.HasSuffix(path, "_test.go") })
	if len(sources) == 0 {
		return nil
	}
	for _, path := range sources {
		f, err := parser.ParseFile(fset, path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			problems = append(problems, fmt.Sprintf("parse: %v", err))
			continue
		}
		if f.Doc == nil {
			continue
		}
		base := filepath.Base(path)
		withDoc = append(withDoc, base)
		if text := f.Doc.Text(); !strings.HasPrefix(text, want) {
			first, _, _ := strings.Cut(text, "\n")
			problems = append(problems, fmt.Sprintf("%s: package doc comment starts %q, want %q", base, first, want+"…"))
		}
	}
	switch len(withDoc) {
	case 0:
		problems = append(problems, fmt.Sprintf("no package doc comment (want one in doc.go starting %q)", want+"…"))
	case 1:
	default:
		slices.Sort(withDoc)
		problems = append(problems, fmt.Sprintf("%d package doc comments, in %s: keep only the one in doc.go", len(withDoc), strings.Join(withDoc, ", ")))
	}
	return problems
}
