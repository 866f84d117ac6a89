package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// header is what a test checks of a tar header, and the content after it.
type header struct {
	Name, Linkname, Uname, Gname, Content string
	Type                                  byte
	Mode                                  int64
	UID, GID                              int
	ModTime                               int64
}

func readTar(t *testing.T, data []byte) []header {
	t.Helper()
	var got []header
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, header{
			Name: h.Name, Linkname: h.Linkname, Uname: h.Uname, Gname: h.Gname, Content: string(content),
			Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime.Unix(),
		})
	}
}

func TestWriteTar(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\n", ".dockerignore": "ignored\n", "ignored": "no",
		"bin/run": "#!/bin/sh\n", "link": "-> bin/run", "empty/": "",
	})
	if err := os.Chmod(filepath.Join(dir, "bin/run"), fs.ModeSetgid|0o750); err != nil {
		t.Fatal(err)
	}
	bc, err := scan(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bc.writeTar(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	want := []header{
		{Name: ".dockerignore", Content: "ignored\n", Type: tar.TypeReg, Mode: 0o644},
		{Name: "Dockerfile", Content: "FROM scratch\n", Type: tar.TypeReg, Mode: 0o644},
		{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "bin/run", Content: "#!/bin/sh\n", Type: tar.TypeReg, Mode: 0o2750},
		{Name: "empty/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "link", Linkname: "bin/run", Type: tar.TypeSymlink, Mode: 0o777},
	}
	if diff := cmp.Diff(want, readTar(t, buf.Bytes())); diff != "" {
		t.Errorf("tar (-want +got):\n%s", diff)
	}
}

func TestWriteTarLargeFileAndChanges(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	bc, err := scan(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bc.writeTar(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	if got := readTar(t, buf.Bytes()); len(got) != 2 || got[1].Content != string(big) {
		t.Fatalf("tar of a large file: %d entries, want Dockerfile and big with its content", len(got))
	}

	if err := os.WriteFile(filepath.Join(dir, "big"), big[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	err = bc.writeTar(t.Context(), io.Discard)
	if want := "big: file shrank while being read"; err == nil || err.Error() != want {
		t.Errorf("writeTar of a shrunk file = %v, want %s", err, want)
	}
	if err := os.Remove(filepath.Join(dir, "big")); err != nil {
		t.Fatal(err)
	}
	if err := bc.writeTar(t.Context(), io.Discard); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("writeTar of a removed file = %v, want fs.ErrNotExist", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := bc.writeTar(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("writeTar with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestHash(t *testing.T) {
	files := map[string]string{
		"Dockerfile": "FROM scratch\nCOPY . /\n", "Dockerfile.other": "FROM scratch\n",
		".dockerignore": "*.tmp\n", "app/main": "main", "link": "-> app/main",
	}
	args := map[string]string{"A": "1", "B": "2"}
	hashOf := func(t *testing.T, dir, dockerfile string, args map[string]string) string {
		t.Helper()
		bc, err := scan(dir, dockerfile)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := bc.hash(t.Context(), args)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum) != 12 {
			t.Fatalf("hash %q: want 12 hex digits", sum)
		}
		return sum
	}
	dir := t.TempDir()
	writeTree(t, dir, files)
	base := hashOf(t, dir, "", args)

	t.Run("same content elsewhere, other mtimes", func(t *testing.T) {
		other := t.TempDir()
		writeTree(t, other, files)
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		for _, name := range []string{"Dockerfile", "app/main", "app", "."} {
			if err := os.Chtimes(filepath.Join(other, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
		if got := hashOf(t, other, "Dockerfile", map[string]string{"B": "2", "A": "1"}); got != base {
			t.Errorf("hash = %s, want %s", got, base)
		}
	})
	t.Run("an ignored file changes nothing", func(t *testing.T) {
		other := t.TempDir()
		writeTree(t, other, files)
		writeTree(t, other, map[string]string{"scratch.tmp": "x"})
		if got := hashOf(t, other, "", args); got != base {
			t.Errorf("hash = %s, want %s", got, base)
		}
	})
	for _, tc := range []struct {
		name       string
		change     func(dir string) error
		dockerfile string
		args       map[string]string
	}{
		{name: "content", change: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "app/main"), []byte("main2"), 0o644)
		}},
		{name: "mode", change: func(dir string) error { return os.Chmod(filepath.Join(dir, "app/main"), 0o755) }},
		{name: "name", change: func(dir string) error {
			return os.Rename(filepath.Join(dir, "app/main"), filepath.Join(dir, "app/main2"))
		}},
		{name: "link target", change: func(dir string) error {
			if err := os.Remove(filepath.Join(dir, "link")); err != nil {
				return err
			}
			return os.Symlink("app", filepath.Join(dir, "link"))
		}},
		{name: "new empty dir", change: func(dir string) error { return os.Mkdir(filepath.Join(dir, "new"), 0o755) }},
		{name: "dockerignore", change: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.tmp\nlink\n"), 0o644)
		}},
		{name: "dockerfile", dockerfile: "Dockerfile.other"},
		{name: "arg value", args: map[string]string{"A": "1", "B": "3"}},
		{name: "arg added", args: map[string]string{"A": "1", "B": "2", "C": ""}},
		{name: "no args", args: map[string]string{}},
	} {
		t.Run("changed "+tc.name, func(t *testing.T) {
			other := t.TempDir()
			writeTree(t, other, files)
			if tc.change != nil {
				if err := tc.change(other); err != nil {
					t.Fatal(err)
				}
			}
			a := args
			if tc.args != nil {
				a = tc.args
			}
			if got := hashOf(t, other, tc.dockerfile, a); got == base {
				t.Errorf("hash = %s, the same as before the change", got)
			}
		})
	}
}
