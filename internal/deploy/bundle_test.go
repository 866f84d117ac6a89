package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/deploy"
)

// file is one entry of a package directory made by a test.
type file struct {
	content string
	mode    fs.FileMode // permission bits (0 means 0644); fs.ModeDir: a directory; fs.ModeSymlink: a link to content
}

const edgeManifest = `name: edge
version: 1.4.2
service:
  executable: bin/edge
  args: ["--port", "8080"]
  working_dir: var
  ports: [8080]
  health_check: {http: "http://127.0.0.1:8080/health"}
dependencies: [db]
environment: {LOG_LEVEL: info}
requires: {commands: [sh]}
`

// edgeFiles is a valid package with every part of the layout.
func edgeFiles() map[string]file {
	return map[string]file{
		"manifest.yaml":        {content: edgeManifest},
		"bin/edge":             {content: "#!/bin/sh\necho edge\n", mode: 0o755},
		"bin/edge-ctl":         {content: "../lib/ctl", mode: fs.ModeSymlink},
		"lib/ctl":              {content: "#!/bin/sh\n", mode: 0o700},
		"scripts/setup.sh":     {content: "#!/bin/sh\nmkdir -p var\n", mode: 0o755},
		"scripts/start.sh":     {content: "#!/bin/sh\nexec bin/edge\n", mode: 0o750},
		"config/edge.conf":     {content: "port = ${PORT}\n", mode: 0o600},
		"var":                  {mode: fs.ModeDir | 0o700},
		"share/a.txt":          {content: "a\n"},
		"share/nested.tar.gz":  {content: "not at the top: packed\n"},
		"share/z/deep/b.txt":   {content: "b\n"},
		".git/HEAD":            {content: "ref: refs/heads/main\n"},
		"share/.DS_Store":      {content: "litter\n"},
		"edge-1.4.1.tar.gz":    {content: "an earlier build\n"},
		".edge.tar.gz.tmp-123": {content: "a build in progress\n"},
	}
}

// writeTree makes the files under dir.
func writeTree(t *testing.T, dir string, files map[string]file) {
	t.Helper()
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case f.mode.IsDir():
			err = os.MkdirAll(p, 0o755)
		case f.mode&fs.ModeSymlink != 0:
			err = os.Symlink(f.content, p)
		default:
			err = os.WriteFile(p, []byte(f.content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.mode&fs.ModeSymlink == 0 && f.mode.Perm() != 0 {
			if err := os.Chmod(p, f.mode.Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// bundleDir makes a package directory of files and returns its path.
func bundleDir(t *testing.T, files map[string]file) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "edge")
	writeTree(t, dir, files)
	return dir
}

// build builds dir and returns the archive, failing the test on an error.
func build(t *testing.T, dir string) ([]byte, deploy.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := deploy.Build(t.Context(), dir, &buf)
	if err != nil {
		t.Fatalf("Build(%s): %v", dir, err)
	}
	return buf.Bytes(), res
}

// tarEntry is what a test looks at in an archive entry.
type tarEntry struct {
	Name     string
	Type     byte
	Mode     int64
	Size     int64
	Link     string
	UID, GID int
	Owner    string
	ModTime  int64
}

// list returns the gzip header and the entries of an archive.
func list(t *testing.T, archive []byte) (gzip.Header, []tarEntry) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return zr.Header, out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{Name: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, Size: hdr.Size, Link: hdr.Linkname,
			UID: hdr.Uid, GID: hdr.Gid, Owner: hdr.Uname + hdr.Gname, ModTime: hdr.ModTime.Unix()})
	}
}

func TestBuildLayout(t *testing.T) {
	dir := bundleDir(t, edgeFiles())
	archive, res := build(t, dir)

	sum := sha256.Sum256(archive)
	if res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(archive)) {
		t.Errorf("Result: size %d, sha256 %s; the archive has %d bytes, sha256 %x", res.Size, res.SHA256, len(archive), sum)
	}
	if res.Manifest == nil || res.Manifest.Name != "edge" || res.Manifest.Version != "1.4.2" {
		t.Errorf("Result.Manifest = %+v, want edge 1.4.2", res.Manifest)
	}

	hdr, entries := list(t, archive)
	if diff := cmp.Diff(gzip.Header{OS: 255}, hdr); diff != "" {
		t.Errorf("gzip header (-want +got):\n%s", diff)
	}
	reg := func(name string, mode int64, content string) tarEntry {
		return tarEntry{Name: name, Type: tar.TypeReg, Mode: mode, Size: int64(len(content))}
	}
	d := func(name string) tarEntry { return tarEntry{Name: name, Type: tar.TypeDir, Mode: 0o755} }
	files := edgeFiles()
	want := []tarEntry{
		reg("manifest.yaml", 0o644, edgeManifest),
		d("bin/"),
		reg("bin/edge", 0o755, files["bin/edge"].content),
		{Name: "bin/edge-ctl", Type: tar.TypeSymlink, Mode: 0o777, Link: "../lib/ctl"},
		d("config/"),
		reg("config/edge.conf", 0o644, files["config/edge.conf"].content),
		d("lib/"),
		reg("lib/ctl", 0o755, files["lib/ctl"].content),
		d("scripts/"),
		reg("scripts/setup.sh", 0o755, files["scripts/setup.sh"].content),
		reg("scripts/start.sh", 0o755, files["scripts/start.sh"].content),
		d("share/"),
		reg("share/a.txt", 0o644, "a\n"),
		reg("share/nested.tar.gz", 0o644, files["share/nested.tar.gz"].content),
		d("share/z/"),
		d("share/z/deep/"),
		reg("share/z/deep/b.txt", 0o644, "b\n"),
		d("var/"),
	}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// scramble changes what a package does not hold: mtimes, and permission bits that say the same
// (executable or not), and adds files that are left out.
func scramble(t *testing.T, dir string) {
	t.Helper()
	for name, mode := range map[string]fs.FileMode{
		"bin/edge": 0o700, "lib/ctl": 0o711, "config/edge.conf": 0o640, "share/a.txt": 0o444, "share": 0o700, "var": 0o750,
	} {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]file{".hidden-new": {content: "left out"}, "edge-9.tar.gz": {content: "left out"}})
}

func TestBuildReproducible(t *testing.T) {
	dir := bundleDir(t, edgeFiles())
	first, res := build(t, dir)
	if again, _ := build(t, dir); !bytes.Equal(first, again) {
		t.Fatal("two builds of one directory differ")
	}

	scramble(t, dir)
	if touched, got := build(t, dir); !bytes.Equal(first, touched) {
		t.Errorf("after new mtimes and equivalent modes: sha256 %s, want %s", got.SHA256, res.SHA256)
	}

	// Another directory of the same content, made at another time (in map order), scrambled.
	other := filepath.Join(t.TempDir(), "elsewhere")
	writeTree(t, other, edgeFiles())
	scramble(t, other)
	if elsewhere, got := build(t, other); !bytes.Equal(first, elsewhere) {
		t.Errorf("a copy elsewhere: sha256 %s, want %s", got.SHA256, res.SHA256)
	}
}

func TestBuildContentChangesHash(t *testing.T) {
	_, base := build(t, bundleDir(t, edgeFiles()))
	for name, change := range map[string]func(map[string]file){
		"a byte of a file": func(files map[string]file) { files["share/a.txt"] = file{content: "A\n"} },
		"a file made executable": func(files map[string]file) {
			files["share/a.txt"] = file{content: "a\n", mode: 0o755}
		},
		"a new file":      func(files map[string]file) { files["share/new"] = file{content: ""} },
		"a new empty dir": func(files map[string]file) { files["share/empty"] = file{mode: fs.ModeDir} },
		"a renamed file":  func(files map[string]file) { files["share/b.txt"] = files["share/a.txt"]; delete(files, "share/a.txt") },
		"a link's target": func(files map[string]file) {
			files["bin/edge-ctl"] = file{content: "../lib/./ctl", mode: fs.ModeSymlink}
		},
	} {
		t.Run(name, func(t *testing.T) {
			files := edgeFiles()
			change(files)
			if _, res := build(t, bundleDir(t, files)); res.SHA256 == base.SHA256 {
				t.Errorf("sha256 %s did not change", res.SHA256)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	manifest := func(service string) file {
		return file{content: "name: edge\nversion: 1.4.2\nservice:\n" + service}
	}
	tests := []struct {
		name   string
		change map[string]file // over edgeFiles; an empty file{} removes the entry
		want   []string        // DIR stands for the package directory
	}{
		{
			name:   "no manifest",
			change: map[string]file{"manifest.yaml": {}},
			want:   []string{"DIR/manifest.yaml: missing: a package needs a manifest.yaml at its top"},
		},
		{
			name:   "a manifest too large to be one",
			change: map[string]file{"manifest.yaml": {content: strings.Repeat("#", 1<<20+1)}},
			want:   []string{"DIR/manifest.yaml: the manifest is larger than 1048576 bytes"},
		},
		{
			name:   "a manifest that is a link",
			change: map[string]file{"manifest.yaml": {content: "share/a.txt", mode: fs.ModeSymlink}},
			want:   []string{"DIR/manifest.yaml: want a regular file"},
		},
		{
			name:   "a malformed manifest",
			change: map[string]file{"manifest.yaml": {content: "name: edge\nversion: [1]\nservice:\n  executable: bin/edge\n  healthcheck: {}\n"}},
			want: []string{
				"DIR/manifest.yaml:2:10: version: want a single value, got a list",
				`DIR/manifest.yaml:5:3: service: unknown key "healthcheck"; did you mean "health_check"?`,
			},
		},
		{
			name:   "a YAML syntax error",
			change: map[string]file{"manifest.yaml": {content: "name: edge\nversion: 1\n service: {}\n"}},
			want:   []string{"DIR/manifest.yaml:3:1: mapping values are not allowed in this context"},
		},
		{
			name:   "a missing executable",
			change: map[string]file{"manifest.yaml": manifest("  executable: bin/edgy\n")},
			want:   []string{"DIR/manifest.yaml:4:15: service.executable bin/edgy: bin/edgy is not in the package"},
		},
		{
			name:   "an executable without an executable bit",
			change: map[string]file{"bin/edge": {content: "#!/bin/sh\n", mode: 0o644}},
			want:   []string{"DIR/manifest.yaml:4:15: service.executable bin/edge: is not executable (chmod +x it)"},
		},
		{
			name:   "an executable that is a directory",
			change: map[string]file{"manifest.yaml": manifest("  executable: bin\n")},
			want:   []string{"DIR/manifest.yaml:4:15: service.executable bin: want a regular file"},
		},
		{
			name:   "an executable that is a hidden file, left out",
			change: map[string]file{"manifest.yaml": manifest("  executable: bin/.edge\n"), "bin/.edge": {content: "x", mode: 0o755}},
			want:   []string{"DIR/manifest.yaml:4:15: service.executable bin/.edge: bin/.edge is not in the package"},
		},
		{
			name:   "paths with ..",
			change: map[string]file{"manifest.yaml": manifest("  executable: ../x\n  working_dir: ../..\n")},
			want: []string{
				`DIR/manifest.yaml:4:15: service.executable "../x": ".." is not allowed: the path must stay inside the package`,
				`DIR/manifest.yaml:5:16: service.working_dir "../..": ".." is not allowed: the path must stay inside the package`,
			},
		},
		{
			name:   "a working_dir that is a file, an executable through a link that leaves",
			change: map[string]file{"manifest.yaml": manifest("  executable: bin/out/x\n  working_dir: share/a.txt\n"), "bin/out": {content: "../..", mode: fs.ModeSymlink}},
			want: []string{
				"DIR/bin/out: symbolic link to ../..: leads outside the package",
				"DIR/manifest.yaml:4:15: service.executable bin/out/x: leads outside the package",
				"DIR/manifest.yaml:5:16: service.working_dir share/a.txt: want a directory",
			},
		},
		{
			name: "links that leave, are absolute, dangle or loop",
			change: map[string]file{
				"bin/up":     {content: "../../etc/passwd", mode: fs.ModeSymlink},
				"bin/abs":    {content: "/etc/passwd", mode: fs.ModeSymlink},
				"bin/gone":   {content: "nothing", mode: fs.ModeSymlink},
				"bin/hidden": {content: "../.git/HEAD", mode: fs.ModeSymlink},
				"loop/a":     {content: "b", mode: fs.ModeSymlink},
				"loop/b":     {content: "a", mode: fs.ModeSymlink},
				"bin/via":    {content: "../share/z/../../..", mode: fs.ModeSymlink},
				"bin/in":     {content: "../share/z/../a.txt", mode: fs.ModeSymlink},
				"bin/abs2":   {content: "../bin/abs", mode: fs.ModeSymlink},
			},
			want: []string{
				"DIR/bin/abs: symbolic link to the absolute path /etc/passwd: links must stay inside the package",
				"DIR/bin/abs2: symbolic link to ../bin/abs: bin/abs is an absolute symbolic link",
				"DIR/bin/gone: symbolic link to nothing: bin/nothing is not in the package",
				"DIR/bin/hidden: symbolic link to ../.git/HEAD: .git is not in the package",
				"DIR/bin/up: symbolic link to ../../etc/passwd: leads outside the package",
				"DIR/bin/via: symbolic link to ../share/z/../../..: leads outside the package",
				"DIR/loop/a: symbolic link to b: has too many levels of symbolic links",
				"DIR/loop/b: symbolic link to a: has too many levels of symbolic links",
			},
		},
		{
			name: "scripts that cannot run",
			change: map[string]file{
				"scripts/setup.sh": {content: "#!/bin/sh\n", mode: 0o644},
				"scripts/stop.sh":  {mode: fs.ModeDir},
				"scripts/other.sh": {content: "a helper need not be executable"},
			},
			want: []string{
				"DIR/scripts/setup.sh: is not executable (chmod +x it)",
				"DIR/scripts/stop.sh: want a regular file",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := edgeFiles()
			for name, f := range tc.change {
				files[name] = f
				if f == (file{}) {
					delete(files, name)
				}
			}
			dir := bundleDir(t, files)
			var buf bytes.Buffer
			_, err := deploy.Build(t.Context(), dir, &buf)
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strings.ReplaceAll(w, "DIR/", dir+"/")
			}
			if diff := cmp.Diff(want, diagnostics(t, err)); diff != "" {
				t.Errorf("Build diagnostics (-want +got):\n%s", diff)
			}
			if buf.Len() != 0 {
				t.Errorf("Build wrote %d bytes before it refused", buf.Len())
			}
			if _, err := deploy.Load(dir); err == nil || err.Error() != strings.Join(want, "\n") {
				t.Errorf("Load(dir) = %v, want the errors of Build", err)
			}
		})
	}
}

func TestBuildRefusesSpecialFiles(t *testing.T) {
	dir := bundleDir(t, edgeFiles())
	if err := syscall.Mkfifo(filepath.Join(dir, "share", "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var buf bytes.Buffer
	_, err := deploy.Build(t.Context(), dir, &buf)
	want := []string{dir + "/share/fifo: a named pipe: only regular files, directories and symbolic links can be in a package"}
	if diff := cmp.Diff(want, diagnostics(t, err)); diff != "" {
		t.Errorf("Build diagnostics (-want +got):\n%s", diff)
	}
	if buf.Len() != 0 {
		t.Errorf("Build wrote %d bytes before it refused", buf.Len())
	}
}

func TestBuildMissingDirectory(t *testing.T) {
	_, err := deploy.Build(t.Context(), filepath.Join(t.TempDir(), "nope"), io.Discard)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Build of a missing directory: got %v, want fs.ErrNotExist", err)
	}
}

func TestBuildCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := deploy.Build(ctx, bundleDir(t, edgeFiles()), io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a canceled context: got %v, want context.Canceled", err)
	}
}

func TestLoad(t *testing.T) {
	dir := bundleDir(t, edgeFiles())
	archive, res := build(t, dir)
	path := filepath.Join(t.TempDir(), res.Manifest.ArchiveName())
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := deploy.ParseManifest("manifest.yaml", []byte(edgeManifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, path} {
		got, err := deploy.Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
		if diff := cmp.Diff(want, got, manifestOpts); diff != "" {
			t.Errorf("Load(%s) (-want +got):\n%s", p, diff)
		}
	}
	if diff := cmp.Diff(want, res.Manifest, manifestOpts); diff != "" {
		t.Errorf("Build's manifest (-want +got):\n%s", diff)
	}
}

// hdr is an entry of an archive that a test writes by hand.
type hdr struct {
	name, content, link string
	typ                 byte
	mode                int64
}

// writeArchive writes a .tar.gz of entries (a directory when the name ends in /, else a file
// of mode 0755 unless given) and returns its path.
func writeArchive(t *testing.T, entries []hdr) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.content))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.name, "/") {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.content[:h.Size])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadArchiveRefuses(t *testing.T) {
	good := []hdr{{name: "manifest.yaml", content: "name: p\nversion: 1\nservice: {executable: bin/p}\n", mode: 0o644}, {name: "bin/"}, {name: "bin/p", content: "x"}}
	with := func(extra ...hdr) []hdr { return append(append([]hdr(nil), good...), extra...) }
	tests := []struct {
		name    string
		entries []hdr
		want    []string // ARCHIVE stands for the archive's path
	}{
		{
			name:    "names that leave",
			entries: with(hdr{name: "../evil", content: "x"}, hdr{name: "/etc/evil", content: "x"}, hdr{name: "bin/../../x", content: "x"}, hdr{name: "./bin/q", content: "x"}),
			want: []string{
				`ARCHIVE/../evil: entry name "../evil": want a clean path relative to the package, without ..`,
				`ARCHIVE/./bin/q: entry name "./bin/q": want a clean path relative to the package, without ..`,
				`ARCHIVE//etc/evil: entry name "/etc/evil": want a clean path relative to the package, without ..`,
				`ARCHIVE/bin/../../x: entry name "bin/../../x": want a clean path relative to the package, without ..`,
			},
		},
		{
			name:    "a link out, a hard link, a device, a file under a link",
			entries: with(hdr{name: "lib", typ: tar.TypeSymlink, link: "/usr/lib"}, hdr{name: "lib/x", content: "x"}, hdr{name: "bin/h", typ: tar.TypeLink, link: "bin/p"}, hdr{name: "bin/null", typ: tar.TypeChar}),
			want: []string{
				"ARCHIVE/bin/h: a hard link: only regular files, directories and symbolic links can be in a package",
				"ARCHIVE/bin/null: a character device: only regular files, directories and symbolic links can be in a package",
				"ARCHIVE/lib: symbolic link to the absolute path /usr/lib: links must stay inside the package",
				"ARCHIVE/lib/x: comes before its directory lib, or that is not a directory",
			},
		},
		{
			name:    "links out",
			entries: with(hdr{name: "lib", typ: tar.TypeSymlink, link: "/usr/lib"}, hdr{name: "bin/up", typ: tar.TypeSymlink, link: "../.."}),
			want: []string{
				"ARCHIVE/bin/up: symbolic link to ../..: leads outside the package",
				"ARCHIVE/lib: symbolic link to the absolute path /usr/lib: links must stay inside the package",
			},
		},
		{
			name:    "twice the same name, and the checks of the rest",
			entries: []hdr{good[0], good[1], {name: "bin/p", content: "x", mode: 0o644}, {name: "bin/", mode: 0o755}},
			want: []string{
				"ARCHIVE/bin: is in the archive twice",
				"ARCHIVE/manifest.yaml:3:23: service.executable bin/p: is not executable (chmod +x it)",
			},
		},
		{
			name:    "an executable without x",
			entries: []hdr{good[0], good[1], {name: "bin/p", content: "x", mode: 0o644}},
			want:    []string{"ARCHIVE/manifest.yaml:3:23: service.executable bin/p: is not executable (chmod +x it)"},
		},
		{
			name:    "no manifest",
			entries: good[1:],
			want:    []string{"ARCHIVE/manifest.yaml: missing: a package needs a manifest.yaml at its top"},
		},
		{
			name:    "a malformed manifest",
			entries: []hdr{{name: "manifest.yaml", content: "name: p\nservice: {executable: bin/p}\nport: 80\n"}, good[1], good[2]},
			want: []string{
				"ARCHIVE/manifest.yaml:1:1: version is missing",
				`ARCHIVE/manifest.yaml:3:1: manifest: unknown key "port"`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeArchive(t, tc.entries)
			_, err := deploy.Load(path)
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strings.ReplaceAll(w, "ARCHIVE/", path+"/")
			}
			if diff := cmp.Diff(want, diagnostics(t, err)); diff != "" {
				t.Errorf("Load diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadDamagedArchive(t *testing.T) {
	dir := bundleDir(t, edgeFiles())
	archive, _ := build(t, dir)
	tmp := t.TempDir()
	for name, data := range map[string][]byte{
		"not gzip":  []byte("manifest.yaml\n"),
		"truncated": archive[:len(archive)/2],
		"corrupt":   append(append([]byte(nil), archive[:len(archive)-6]...), 0, 0, 0, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(tmp, strings.ReplaceAll(name, " ", "-")+".tar.gz")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := deploy.Load(path)
			got := diagnostics(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], path+": ") {
				t.Errorf("Load of a %s archive: got %q, want one diagnostic naming %s", name, got, path)
			}
		})
	}
	if _, err := deploy.Load(filepath.Join(tmp, "missing.tar.gz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing archive: got %v, want fs.ErrNotExist", err)
	}
}

// ExampleBuild shows what a build reports.
func ExampleBuild() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	_ = os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "bin", "hello"), []byte("#!/bin/sh\necho hello\n"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("name: hello\nversion: 1.0.0\nservice: {executable: bin/hello}\n"), 0o644)

	var archive bytes.Buffer
	res, err := deploy.Build(context.Background(), dir, &archive)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Manifest.ArchiveName(), res.Size == int64(archive.Len()), len(res.SHA256))
	// Output: hello-1.0.0.tar.gz true 64
}
