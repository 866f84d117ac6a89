package deploy

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/graph-network-harness/harness/config"
)

// readArchive reads and checks the package archive at file, as Build writes them: a .tar.gz of
// directories, regular files and symbolic links with clean relative names, each after its
// directory. It reads the whole archive, so a damaged one is found here, not when unpacked.
func readArchive(file string) (*Manifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", file, err)
	}
	defer f.Close()
	b := &bundle{display: func(name string) string { return file + "/" + name }}
	// whole reports a problem of the whole archive, which makes its entries moot.
	whole := func(format string, args ...any) (*Manifest, error) {
		return nil, &config.Error{Diagnostics: config.Diagnostics{{
			Pos: config.Pos{File: file}, Severity: config.SeverityError, Message: fmt.Sprintf(format, args...),
		}}}
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return whole("not a package: want a .tar.gz made by harness package (%v)", err)
	}
	var data []byte
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return whole("damaged archive: %v", err)
		}
		e, ok := b.archiveEntry(hdr)
		if !ok {
			continue
		}
		if e.name == ManifestFile && e.mode.IsRegular() && e.size <= maxManifest {
			if data, err = io.ReadAll(tr); err != nil {
				return whole("damaged archive: %v", err)
			}
		}
		b.add(e)
	}
	// The gzip checksum is checked once the stream is read to its end.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return whole("damaged archive: %v", err)
	}
	b.check(data)
	if err := b.err(); err != nil {
		return nil, err
	}
	return b.manifest, nil
}

// archiveEntry turns a tar header into an entry, or reports why it cannot be in a package.
func (b *bundle) archiveEntry(hdr *tar.Header) (entry, bool) {
	name := strings.TrimSuffix(hdr.Name, "/")
	switch {
	case name == "" || path.IsAbs(name) || path.Clean(name) != name || slices.Contains(strings.Split(name, "/"), ".."):
		b.problem(hdr.Name, "entry name %q: want a clean path relative to the package, without ..", hdr.Name)
		return entry{}, false
	case name != hdr.Name && hdr.Typeflag != tar.TypeDir:
		b.problem(hdr.Name, "a name ending in / that is not a directory")
		return entry{}, false
	}
	if dir := parent(name); dir != "" {
		if d, ok := b.byName[dir]; !ok || !d.mode.IsDir() {
			b.problem(name, "comes before its directory %s, or that is not a directory", dir)
			return entry{}, false
		}
	}
	e := entry{name: name, mode: fs.FileMode(hdr.Mode).Perm()}
	switch hdr.Typeflag {
	case tar.TypeDir:
		e.mode |= fs.ModeDir
	case tar.TypeReg:
		e.size = hdr.Size
	case tar.TypeSymlink:
		e.mode |= fs.ModeSymlink
		e.link = hdr.Linkname
	default:
		b.problem(name, "%s: only regular files, directories and symbolic links can be in a package", tarKind(hdr.Typeflag))
		return entry{}, false
	}
	return e, true
}

// tarKind names a tar entry type that a package cannot hold.
func tarKind(t byte) string {
	switch t {
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a named pipe"
	}
	return fmt.Sprintf("an entry of type %q", t)
}
