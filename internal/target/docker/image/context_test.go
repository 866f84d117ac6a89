package image

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree creates files under dir: a name ending in "/" is a directory, content starting
// with "-> " makes a symlink to the rest, anything else is a file's content.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			err = os.Symlink(target, path)
		} else {
			err = os.WriteFile(path, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func entryNames(bc *buildContext) []string {
	var names []string
	for _, e := range bc.entries {
		names = append(names, e.name)
	}
	return names
}

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		files      map[string]string
		dockerfile string
		want       []string
	}{{
		name:  "no dockerignore: everything, parents before children",
		files: map[string]string{"Dockerfile": "FROM scratch", "a": "a", "d/b": "b", "d/e/": "", "a-z": "z"},
		want:  []string{"Dockerfile", "a", "a-z", "d", "d/b", "d/e"},
	}, {
		name: "exclusions and re-inclusions",
		files: map[string]string{
			"Dockerfile": "FROM scratch",
			".dockerignore": "# comment\n*.log\n!keep.log\nsecret\nbuild\n!build/keep\n" +
				"node_modules\n/tmp/**\n",
			"a.txt": "a", "b.log": "b", "keep.log": "k", "secret": "s",
			"build/keep": "k", "build/other": "o",
			"node_modules/x/y": "y", "dir/y.log": "deeper logs are not *.log",
			"tmp/1/2": "t", "link": "-> a.txt",
		},
		// "/tmp/**" excludes what is under tmp, not tmp itself, as in docker.
		want: []string{".dockerignore", "Dockerfile", "a.txt", "build/keep", "dir", "dir/y.log", "keep.log", "link", "tmp"},
	}, {
		name: "the Dockerfile and .dockerignore are always sent",
		files: map[string]string{
			"docker/Dockerfile.dev": "FROM scratch", "docker/other": "o",
			".dockerignore": "docker\n.dockerignore\n*\n!app\n", "app": "app",
		},
		dockerfile: "docker/Dockerfile.dev",
		want:       []string{".dockerignore", "app", "docker/Dockerfile.dev"},
	}, {
		name:       "an absolute Dockerfile inside the context",
		files:      map[string]string{"sub/Dockerfile": "FROM scratch"},
		dockerfile: "ABS/sub/Dockerfile",
		want:       []string{"sub", "sub/Dockerfile"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			bc, err := scan(dir, strings.Replace(tc.dockerfile, "ABS", dir, 1))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, entryNames(bc)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanEntries(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch", "run": "#!/bin/sh", "l": "-> ../outside"})
	if err := os.Chmod(filepath.Join(dir, "run"), fs.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	bc, err := scan(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{name: "Dockerfile", mode: 0o644, size: 12},
		{name: "l", mode: fs.ModeSymlink | 0o777, link: "../outside"},
		{name: "run", mode: fs.ModeSetuid | 0o755, size: 9},
	}
	if diff := cmp.Diff(want, bc.entries, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if bc.dockerfile != "Dockerfile" {
		t.Errorf("dockerfile = %q, want Dockerfile", bc.dockerfile)
	}
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch", "sub/": ""})
	for _, tc := range []struct {
		dockerfile, want string
		notExist         bool
	}{
		{dockerfile: "Dockerfile.dev", want: "dockerfile " + filepath.Join(dir, "Dockerfile.dev") + ": file does not exist", notExist: true},
		{dockerfile: "../Dockerfile", want: "dockerfile ../Dockerfile is outside the build context"},
		{dockerfile: "/etc/passwd", want: "dockerfile /etc/passwd is outside the build context"},
		{dockerfile: "sub", want: "dockerfile " + filepath.Join(dir, "sub") + " is not a regular file"},
	} {
		_, err := scan(dir, tc.dockerfile)
		if err == nil || err.Error() != tc.want {
			t.Errorf("scan(%q) = %v, want %s", tc.dockerfile, err, tc.want)
		}
		if got := errors.Is(err, fs.ErrNotExist); got != tc.notExist {
			t.Errorf("scan(%q): errors.Is(err, fs.ErrNotExist) = %v, want %v", tc.dockerfile, got, tc.notExist)
		}
	}
	if _, err := scan(filepath.Join(dir, "absent"), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("scan of an absent context = %v, want fs.ErrNotExist", err)
	}
}
