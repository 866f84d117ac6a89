package config

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"
)

// fuzzLookup is the fixed environment of the fuzzers: a set, an empty and an odd value.
func fuzzLookup(name string) (string, bool) {
	switch name {
	case "SET":
		return "value", true
	case "EMPTY":
		return "", true
	case "ODD":
		return "${SET} $$ }", true
	}
	return "", false
}

// fuzzSeeds returns the services.yaml of every golden case.
func fuzzSeeds(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.txtar"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden cases to seed from: %v", err)
	}
	var out [][]byte
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, fl := range ar.Files {
			if fl.Name == "services.yaml" {
				out = append(out, fl.Data)
			}
		}
	}
	return out
}

// unsafeForFuzz reports whether a fuzzed file could make Parse read a device or a
// process file through env_file (such as /dev/zero or /dev/stdin, which never end).
func unsafeForFuzz(data []byte) bool {
	if !bytes.Contains(data, []byte("env_file")) {
		return false
	}
	for _, s := range []string{"dev", "proc", "sys", "fd", `\`} {
		if bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// FuzzLoad parses arbitrary bytes: Parse must not panic, every diagnostic must have a file and
// a line, and a file that loads must load again, unchanged, from its normalized form.
func FuzzLoad(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	for _, s := range []string{
		"",
		"---",
		"~",
		"[]",
		"version: \"1.0\"\nservices:\n",
		"version: 1.0\nservices: []\n",
		"version: \"1.0\"\nservices: {a: {type: docker, image: x, env: [\"A=${SET}\", B, \"=x\"]}}\n",
		"version: \"1.0\"\nservices:\n  a: &a {type: docker, image: x}\n  b: *a\n  c: {<<: [*a, *a], image: y}\n",
		"version: \"1.0\"\nx: &x {<<: *x}\nservices: {}\n",
		"version: \"1.0\"\nservices:\n  a:\n    type: docker\n    image: x\n    <<: {<<: {<<: {image: y}}}\n",
		"version: \"1.0\"\nservices: {a: {type: docker, image: \"${ODD}\", command: \"sh -c 'a \\\"b' \\\\\"}}\n",
		"version: \"1.0\"\nservices: {a: {type: process, binary: sh, ports: [\"[::1]:1:1\", \"1-2\", \"a:b:c:d\", 70000, -1, \"0:0/sctp\"]}}\n",
		"version: \"1.0\"\nnetworks: {m: {type: wireguard, subnet: \"::/0\", nodes: [{host: h, ssh_user: u}, {host: h}]}}\nservices: {}\n",
		"version: \"1.0\"\nservices: {a: {type: docker, image: x, health_check: {tcp: {}, grpc: {}, http: {}, command: [], log_line: \"(\"}}}\n",
		"version: \"1.0\"\nservices: {a: {type: docker, image: x, restart: {backoff: {multiplier: NaN, jitter: .inf}}}}\n",
		"version: \"1.0\"\nservices: {a: {type: docker, image: x, dependencies: {a: {condition: x}, b: null}}}\n",
		"version: \"1.0\"\nservices: {\"${a.ip}\": {type: docker, image: \"${a.ip}${\"}}}\n",
		"version: \"1.0\"\nservices:\n  a:\n    type: docker\n    image: |\n      ${\n",
		"version: !!binary AAAA\nservices: {? [a] : b}\n",
		"\xef\xbb\xbfversion: \"1.0\"\nservices: {}\n",
		"version: \"1.0\"\nservices: {é: {type: docker, image: \"é${\"}}}\n",
	} {
		f.Add([]byte(s))
	}
	dir := filepath.Join(f.TempDir(), "stack")
	path := filepath.Join(dir, "services.yaml")
	opts := Options{Lookup: fuzzLookup}
	f.Fuzz(func(t *testing.T, data []byte) {
		if unsafeForFuzz(data) {
			t.Skip("env_file could name a device")
		}
		stack, err := Parse(path, data, opts)
		var diags Diagnostics
		switch e := err.(type) {
		case nil:
			diags = stack.Warnings
		case *Error:
			diags = e.Diagnostics
			if len(e.Diagnostics.Errors()) == 0 {
				t.Errorf("an *Error without error diagnostics")
			}
		default:
			t.Fatalf("Parse returned %T: %v", err, err)
		}
		for _, d := range diags {
			if d.Line <= 0 || d.Col < 0 || d.File == "" {
				t.Errorf("diagnostic without a position: %#v", d)
			}
		}
		if err != nil {
			return
		}
		first := fuzzMarshal(t, stack)
		again, err := Parse(filepath.Join(dir, "normalized.yaml"), first, opts)
		if err != nil {
			t.Fatalf("the normalized form does not load: %v\n--- input:\n%s\n--- normalized:\n%s", err, data, first)
		}
		if second := fuzzMarshal(t, again); !bytes.Equal(first, second) {
			t.Fatalf("the normalized form changes when read back\n--- first:\n%s\n--- second:\n%s", first, second)
		}
	})
}

func fuzzMarshal(t *testing.T, s *Stack) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b.Bytes()
}

// FuzzInterpolate expands arbitrary values, directly and as a value in a file: no panic, every
// diagnostic inside the value, a value without "$" unchanged, and a value that expands cleanly
// reads back from its canonical form.
func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{
		"", "plain", "$", "$$", "$$$", "${", "${}", "}", "${SET}", "${UNSET}", "${EMPTY:-d}", "${UNSET-d}",
		"${SET:?m}", "${UNSET?m}", "${UNSET:?}", "${SET:+alt}", "${EMPTY+alt}", "${A:-${B:-${C:-x}}}",
		"${A:-${B", "$${SET}", "$SET", "a $ b", "${db.ip}", "${db.nope}", "${Db.ip}", "${db.ip:-x}",
		"${lower-case-bad!}", "${my-svc}", "${SET-x-y}", "${SET:x}", "${ODD}", "${UNSET:-$$}",
		"héllo ${UNSET}", "${\x00}", "${A:-}}", "${.}", "${a.}", "${.ip}", "${a.b.c}", "${-}", "${_:-_}",
		"line\n${UNSET}", "\t${", "'${SET}'", "\"${SET}\"", "${UNSET:?${SET}}",
	} {
		f.Add(s)
	}
	dir := filepath.Join(f.TempDir(), "stack")
	path := filepath.Join(dir, "services.yaml")
	f.Fuzz(func(t *testing.T, s string) {
		// Directly: positions are 1:1+offset.
		c := &collector{}
		x := &expander{lookup: fuzzLookup, c: c}
		tmpl := x.expand(s, func(off int) Pos { return Pos{File: "v", Line: 1, Col: 1 + off} }, true, "v")
		for _, d := range c.diags {
			if d.File != "v" || d.Line != 1 || d.Col < 1 || d.Col > len(s)+1 {
				t.Errorf("diagnostic outside the value %q: %#v", s, d)
			}
		}
		if !strings.Contains(s, "$") {
			if got, ok := tmpl.literal(); !ok || got != s {
				t.Errorf("expand(%q) = %q, want it unchanged", s, got)
			}
		}
		if len(c.diags.Errors()) == 0 {
			back, err := ParseTemplate(tmpl.String())
			if err != nil {
				t.Fatalf("canonical form %q of %q does not read back: %v", tmpl.String(), s, err)
			}
			if back.String() != tmpl.String() {
				t.Errorf("canonical form %q reads back as %q", tmpl.String(), back.String())
			}
		}

		// As a value in a file (YAML cannot hold every string: skip those it changes).
		if !utf8.ValidString(s) {
			return
		}
		doc := map[string]any{
			"version": "1.0",
			"services": map[string]any{
				"db": map[string]any{"type": "docker", "image": "x", "ports": []string{"1"}},
				"s":  map[string]any{"type": "docker", "image": "x", "env": map[string]string{"V": s}},
			},
		}
		data, err := yaml.Marshal(doc)
		if err != nil {
			return
		}
		var check struct {
			Services map[string]struct{ Env map[string]string }
		}
		if yaml.Unmarshal(data, &check) != nil || check.Services["s"].Env["V"] != s {
			return
		}
		stack, err := Parse(path, data, Options{Lookup: fuzzLookup})
		var diags Diagnostics
		switch e := err.(type) {
		case nil:
			diags = stack.Warnings
		case *Error:
			diags = e.Diagnostics
		default:
			t.Fatalf("Parse returned %T: %v", err, err)
		}
		for _, d := range diags {
			if d.Line <= 0 || d.File == "" {
				t.Errorf("diagnostic without a position: %#v", d)
			}
		}
		if err == nil && !strings.Contains(s, "$") {
			var v Template
			for _, svc := range stack.Services {
				if svc.Name == "s" {
					v, _ = svc.Env.Lookup("V")
				}
			}
			if got, _ := v.literal(); got != s {
				t.Errorf("value %q loads as %q, want it unchanged", s, got)
			}
		}
	})
}
