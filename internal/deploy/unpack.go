package deploy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/graph-network-harness/harness/target"
)

// Unpack unpacks the tar r to the new directory dir, unless dir exists: into a temporary
// directory beside it, renamed into place once whole, so dir is whole or absent. Entries are
// written through an os.Root: none can land outside, through ".." or a symbolic link.
// Directories, regular files and symbolic links are unpacked; any other entry is refused
// (target.ErrInvalidSpec).
func Unpack(r io.Reader, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after the rename: nothing
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		if err := unpackEntry(root, hdr, tr); err != nil {
			return fmt.Errorf("unpack: %s: %w", hdr.Name, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// unpackEntry writes one entry of a tar under root.
func unpackEntry(root *os.Root, hdr *tar.Header, r io.Reader) error {
	name := path.Clean(strings.TrimSuffix(hdr.Name, "/"))
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("bad name: %w", target.ErrInvalidSpec)
	}
	mode := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		return root.Mkdir(name, mode|0o700)
	case tar.TypeSymlink:
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeReg:
		return writeFile(root, name, mode, r)
	}
	return fmt.Errorf("entry type %q: %w", hdr.Typeflag, target.ErrInvalidSpec)
}

// writeFile creates the file name under root, which must not exist, with r's content.
func writeFile(root *os.Root, name string, mode fs.FileMode, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
