package config_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"

	"github.com/graph-network-harness/harness/config"
)

var update = flag.Bool("update", false, "rewrite the golden sections of testdata/*/*.txtar")

// A golden case is one txtar archive:
//
//	-- services.yaml --   the file under test (other files are written beside it)
//	-- env --             optional NAME=value lines: the environment of the command
//	-- strict --          optional: load with Options.Strict
//	-- want.yaml --       valid cases: the normalized stack
//	-- diagnostics --     every diagnostic, errors first (valid cases: the warnings)
//
// Run with -update to rewrite want.yaml and diagnostics from the current code.
func TestGolden(t *testing.T) {
	for _, dir := range []string{"valid", "invalid", "compat"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
		if len(files) == 0 {
			t.Fatalf("no cases in testdata/%s", dir)
		}
		for _, file := range files {
			t.Run(dir+"/"+strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
				runGolden(t, file, dir == "invalid")
			})
		}
	}
}

func runGolden(t *testing.T, file string, wantInvalid bool) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "stack") // the default stack name
	env := map[string]string{}
	strict := false
	for _, f := range ar.Files {
		switch f.Name {
		case "want.yaml", "diagnostics":
		case "strict":
			strict = true
		case "env":
			sc := bufio.NewScanner(bytes.NewReader(f.Data))
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), "="); ok {
					env[k] = v
				}
			}
		default:
			path := filepath.Join(dir, f.Name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	stack, err := config.Load(filepath.Join(dir, "services.yaml"), config.Options{Lookup: lookup, Strict: strict})

	var diags config.Diagnostics
	var got []byte
	switch e := err.(type) {
	case nil:
		if wantInvalid {
			t.Errorf("Load succeeded; want errors")
		}
		diags = stack.Warnings
		got = marshal(t, stack)
		roundTrip(t, dir, got, lookup)
	case *config.Error:
		if !wantInvalid {
			t.Errorf("Load: %v", err)
		}
		diags = e.Diagnostics
	default:
		t.Fatalf("Load: %v", err)
	}
	var lines strings.Builder
	for _, d := range diags {
		if d.Line == 0 {
			t.Errorf("diagnostic without a position: %v", d)
		}
		lines.WriteString(strings.ReplaceAll(d.String(), dir+string(filepath.Separator), "") + "\n")
	}
	check(t, ar, file, "diagnostics", []byte(lines.String()))
	if !wantInvalid {
		check(t, ar, file, "want.yaml", got)
	}
}

// roundTrip checks that the normalized form reads back to itself.
func roundTrip(t *testing.T, dir string, normalized []byte, lookup config.Lookup) {
	t.Helper()
	again, err := config.Parse(filepath.Join(dir, "normalized.yaml"), normalized, config.Options{Lookup: lookup})
	if err != nil {
		t.Fatalf("normalized form does not load: %v\n%s", err, normalized)
	}
	if diff := cmp.Diff(string(normalized), string(marshal(t, again))); diff != "" {
		t.Errorf("normalized form changes when read back (-first +second):\n%s", diff)
	}
}

// check compares a section of the archive with got, or rewrites it under -update.
func check(t *testing.T, ar *txtar.Archive, file, name string, got []byte) {
	t.Helper()
	i := -1
	for j, f := range ar.Files {
		if f.Name == name {
			i = j
		}
	}
	if *update {
		switch {
		case i >= 0:
			ar.Files[i].Data = got
		case len(got) > 0:
			ar.Files = append(ar.Files, txtar.File{Name: name, Data: got})
		}
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var want []byte
	if i >= 0 {
		want = ar.Files[i].Data
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func marshal(t *testing.T, s *config.Stack) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// reported returns the diagnostics of a Parse or Load as text, with prefix cut: the warnings
// of a valid stack, or every diagnostic of an invalid one. Any other error fails the test.
func reported(t *testing.T, stack *config.Stack, err error, prefix string) []string {
	t.Helper()
	var diags config.Diagnostics
	var cerr *config.Error
	switch {
	case err == nil:
		diags = stack.Warnings
	case errors.As(err, &cerr):
		diags = cerr.Diagnostics
	default:
		t.Fatalf("Parse: %v", err)
	}
	var out []string
	for _, d := range diags {
		out = append(out, strings.TrimPrefix(d.String(), prefix))
	}
	return out
}
