package deploy

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Unpack cannot write outside its directory: not by "..", not through a symlink.
func TestUnpackStaysInside(t *testing.T) {
	for name, entries := range map[string][]tar.Header{
		"dot-dot":  {{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"absolute": {{Name: "/etc/escape", Typeflag: tar.TypeReg, Mode: 0o644}},
		"through a symlink": {
			{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
			{Name: "link/escape", Typeflag: tar.TypeReg, Mode: 0o644},
		},
	} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		dir := filepath.Join(t.TempDir(), "ctx")
		if err := Unpack(&b, dir); err == nil {
			t.Errorf("%s: unpacked, want refused", name)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: the directory exists after a refused unpack", name)
		}
	}
	if _, err := os.Stat("/tmp/escape"); err == nil {
		t.Error("/tmp/escape was written")
	}
}
