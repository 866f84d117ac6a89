package deploy

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/config"
)

// The modes every entry of a package gets: mtimes, owners and permission bits other than
// "executable or not" are not content.
const (
	dirMode  fs.FileMode = 0o755
	execMode fs.FileMode = 0o755 // a file with any executable bit
	fileMode fs.FileMode = 0o644 // any other file
	linkMode fs.FileMode = 0o777
)

// compression is the gzip level of every package: fixed, because the level changes the bytes.
const compression = gzip.DefaultCompression

// gzipOS is the OS byte of the gzip header: 255, "unknown", whatever the building host is.
const gzipOS = 255

// epoch is the mtime of every entry.
var epoch = time.Unix(0, 0)

// scripts are the optional scripts of a package; each one present must be an executable file.
var scripts = []string{"scripts/setup.sh", "scripts/start.sh", "scripts/stop.sh"}

// Result is what Build made.
type Result struct {
	// Manifest is the package's manifest.
	Manifest *Manifest `json:"manifest"`
	// Size is the length of the archive in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the archive.
	SHA256 string `json:"sha256"`
}

// entry is one file of a package, as it is (or will be) in the archive.
type entry struct {
	name string      // slash-separated, relative to the package, clean, no trailing slash
	mode fs.FileMode // type bits and the normalized permission bits
	size int64       // of a regular file
	link string      // the target of a symbolic link, as written
}

// tarName is the entry's name in the archive: a directory's ends in a slash.
func (e entry) tarName() string {
	if e.mode.IsDir() {
		return e.name + "/"
	}
	return e.name
}

// normalMode returns the mode an entry of type t (with permission bits perm) has in a package.
func normalMode(t fs.FileMode, perm fs.FileMode) fs.FileMode {
	switch {
	case t.IsDir():
		return fs.ModeDir | dirMode
	case t&fs.ModeSymlink != 0:
		return fs.ModeSymlink | linkMode
	case perm&0o111 != 0:
		return execMode
	}
	return fileMode
}

// sortEntries puts manifest.yaml first, so that a reader finds it without reading the rest,
// then every other entry by its name in the archive, so a directory comes before its contents.
func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		if (a.name == ManifestFile) != (b.name == ManifestFile) {
			if a.name == ManifestFile {
				return -1
			}
			return 1
		}
		return strings.Compare(a.tarName(), b.tarName())
	})
}

// bundle is a package being read, from a directory or from an archive: its entries in archive
// order, its manifest, and the problems found so far.
type bundle struct {
	entries  []entry
	byName   map[string]entry
	display  func(name string) string // names an entry in diagnostics
	manifest *Manifest
	diags    config.Diagnostics
}

func (b *bundle) problem(name, format string, args ...any) {
	b.diags = append(b.diags, config.Diagnostic{
		Pos:      config.Pos{File: b.display(name)},
		Severity: config.SeverityError,
		Message:  fmt.Sprintf(format, args...),
	})
}

// add records an entry; a second entry of one name is a problem.
func (b *bundle) add(e entry) {
	if b.byName == nil {
		b.byName = map[string]entry{}
	}
	if _, dup := b.byName[e.name]; dup {
		b.problem(e.name, "is in the archive twice")
		return
	}
	b.byName[e.name] = e
	b.entries = append(b.entries, e)
}

// Problems of resolving a path in a package.
var (
	errOutside  = errors.New("leads outside the package")
	errAbsolute = errors.New("is an absolute symbolic link")
	errLoop     = errors.New("has too many levels of symbolic links")
)

// resolve follows the path rel from the directory dir ("" is the top of the package) through
// the package's entries as the kernel will once the package is unpacked, symbolic links
// included, and returns the entry it ends at.
func (b *bundle) resolve(dir, rel string) (entry, error) {
	pending := strings.Split(rel, "/")
	for hops := 0; len(pending) > 0; {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if dir == "" {
				return entry{}, errOutside
			}
			dir = parent(dir)
			continue
		}
		next := path.Join(dir, part)
		e, ok := b.byName[next]
		switch {
		case !ok:
			return entry{}, fmt.Errorf("%s is not in the package", next)
		case e.mode&fs.ModeSymlink != 0:
			if hops++; hops > 40 {
				return entry{}, errLoop
			}
			if path.IsAbs(e.link) {
				return entry{}, fmt.Errorf("%s %w", next, errAbsolute)
			}
			pending = append(strings.Split(e.link, "/"), pending...)
		case len(pending) > 0 && !e.mode.IsDir():
			return entry{}, fmt.Errorf("%s is not a directory", next)
		default:
			dir = next
		}
	}
	if dir == "" {
		return entry{mode: fs.ModeDir | dirMode}, nil
	}
	return b.byName[dir], nil
}

// parent returns the directory of the entry name: "" for the top of the package.
func parent(name string) string {
	if d := path.Dir(name); d != "." {
		return d
	}
	return ""
}

// check parses the manifest data (the content of the entry manifest.yaml, unread when that is
// not a regular file of at most maxManifest bytes) and checks it against the entries: the links
// stay inside, and the files the manifest and the layout name are there.
func (b *bundle) check(data []byte) {
	b.checkLinks()
	switch e, ok := b.byName[ManifestFile]; {
	case !ok:
		b.problem(ManifestFile, "missing: a package needs a manifest.yaml at its top")
		return
	case !e.mode.IsRegular():
		b.problem(ManifestFile, "want a regular file")
		return
	case e.size > maxManifest:
		b.problem(ManifestFile, "the manifest is larger than %d bytes", maxManifest)
		return
	}
	m, at, diags := parseManifest(b.display(ManifestFile), data)
	b.manifest = m
	b.diags = append(b.diags, diags...)

	// fileAt checks that name leads to an entry that want accepts, else reports why at at,
	// after label when there is one.
	fileAt := func(at config.Pos, label, name string, want func(entry) string) {
		e, err := b.resolve("", name)
		if err == nil {
			if msg := want(e); msg != "" {
				err = errors.New(msg)
			}
		}
		if err == nil {
			return
		}
		msg := err.Error()
		if label != "" {
			msg = label + " " + name + ": " + msg
		}
		b.diags = append(b.diags, config.Diagnostic{Pos: at, Severity: config.SeverityError, Message: msg})
	}
	executable := func(e entry) string {
		switch {
		case !e.mode.IsRegular():
			return "want a regular file"
		case e.mode.Perm()&0o111 == 0:
			return "is not executable (chmod +x it)"
		}
		return ""
	}
	if exe := m.Service.Executable; exe != "" && !hasProblem(diags, at.executable) {
		fileAt(at.executable, "service.executable", exe, executable)
	}
	if wd := m.Service.WorkingDir; wd != "" && !hasProblem(diags, at.workingDir) {
		fileAt(at.workingDir, "service.working_dir", wd, func(e entry) string {
			if !e.mode.IsDir() {
				return "want a directory"
			}
			return ""
		})
	}
	for _, s := range scripts {
		if _, ok := b.byName[s]; ok {
			fileAt(config.Pos{File: b.display(s)}, "", s, executable)
		}
	}
}

// checkLinks checks that every symbolic link is relative and leads to an entry of the package.
func (b *bundle) checkLinks() {
	for _, e := range b.entries {
		if e.mode&fs.ModeSymlink == 0 {
			continue
		}
		if path.IsAbs(e.link) {
			b.problem(e.name, "symbolic link to the absolute path %s: links must stay inside the package", e.link)
			continue
		}
		if _, err := b.resolve(parent(e.name), e.link); err != nil {
			b.problem(e.name, "symbolic link to %s: %v", e.link, err)
		}
	}
}

// hasProblem reports whether a diagnostic is at p already.
func hasProblem(ds config.Diagnostics, p config.Pos) bool {
	return slices.ContainsFunc(ds, func(d config.Diagnostic) bool { return d.Pos == p })
}

// err returns the problems as a *config.Error, or nil when there are none.
func (b *bundle) err() error {
	if len(b.diags) == 0 {
		return nil
	}
	sortDiagnostics(b.diags)
	return &config.Error{Diagnostics: b.diags}
}

// dirBundle is a package directory, read and checked, with its root open for Build.
type dirBundle struct {
	bundle
	root *os.Root
}

// openDir reads and checks the package directory dir. Every file under dir is part of the
// package except those left out on purpose (see included).
func openDir(dir string) (*dirBundle, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", dir, err)
	}
	b := &dirBundle{root: root, bundle: bundle{display: func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }}}
	if err := b.walk(); err != nil {
		root.Close()
		return nil, fmt.Errorf("package %s: %w", dir, err)
	}
	sortEntries(b.entries)
	var data []byte
	if e, ok := b.byName[ManifestFile]; ok && e.mode.IsRegular() && e.size <= maxManifest {
		if data, err = root.ReadFile(ManifestFile); err != nil {
			root.Close()
			return nil, fmt.Errorf("package %s: %w", dir, err)
		}
	}
	b.check(data)
	if err := b.err(); err != nil {
		root.Close()
		return nil, err
	}
	return b, nil
}

// included reports whether the directory entry name (at the top when top) is part of the
// package. Left out: names starting with "." (version control, editor and OS litter, and the
// temporary file of a build in progress), and .tar.gz files at the top (packages built in
// their own directory, which would otherwise pack the previous build into the next).
func included(name string, top bool, t fs.FileMode) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	return !top || !t.IsRegular() || !strings.HasSuffix(name, ".tar.gz")
}

// walk records every entry of the directory, without following symbolic links. A special file
// (device, fifo, socket) is a problem.
func (b *dirBundle) walk() error {
	return fs.WalkDir(b.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if !included(d.Name(), !strings.Contains(name, "/"), d.Type()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		t := info.Mode().Type()
		e := entry{name: name, mode: normalMode(t, info.Mode().Perm())}
		switch {
		case t.IsDir():
		case t.IsRegular():
			e.size = info.Size()
		case t&fs.ModeSymlink != 0:
			if e.link, err = b.root.Readlink(name); err != nil {
				return err
			}
		default:
			b.problem(name, "%s: only regular files, directories and symbolic links can be in a package", kind(t))
			return nil
		}
		b.add(e)
		return nil
	})
}

// kind names a special file type.
func kind(t fs.FileMode) string {
	switch {
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// Build writes the package directory dir to w as a reproducible .tar.gz, and returns its
// manifest, size and SHA-256. The whole directory is read and checked first: on any problem
// (a malformed manifest, a missing or non-executable executable, a path or link leading out of
// the package, a special file) Build writes nothing and returns a *config.Error naming each
// file, and the line and column of the manifest's. The same directory content gives the same
// bytes, whatever the mtimes, owners and permission bits beyond "executable or not".
func Build(ctx context.Context, dir string, w io.Writer) (Result, error) {
	b, err := openDir(dir)
	if err != nil {
		return Result{}, err
	}
	defer b.root.Close()
	h := sha256.New()
	n := &counter{}
	if err := b.write(ctx, io.MultiWriter(w, h, n)); err != nil {
		return Result{}, fmt.Errorf("package %s: %w", dir, err)
	}
	return Result{Manifest: b.manifest, Size: n.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// write writes the archive: gzip with a fixed level, no name, mtime 0 and OS "unknown", around
// a tar whose entries have fixed mtimes, owner 0:0 without names, and normalized modes.
func (b *dirBundle) write(ctx context.Context, w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, compression)
	if err != nil {
		return err
	}
	zw.Header = gzip.Header{OS: gzipOS}
	tw := tar.NewWriter(zw)
	for _, e := range b.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.writeEntry(tw, e); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// writeEntry writes the header of e and, for a regular file, its content, read through the
// package's root so that nothing outside it is read even if the directory changes meanwhile.
func (b *dirBundle) writeEntry(tw *tar.Writer, e entry) error {
	hdr := &tar.Header{Name: e.tarName(), Mode: int64(e.mode.Perm()), ModTime: epoch}
	switch {
	case e.mode.IsDir():
		hdr.Typeflag = tar.TypeDir
	case e.mode&fs.ModeSymlink != 0:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
	default:
		hdr.Typeflag, hdr.Size = tar.TypeReg, e.size
	}
	if hdr.Typeflag != tar.TypeReg {
		return tw.WriteHeader(hdr)
	}
	f, err := b.root.Open(e.name)
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return err
	} else if !info.Mode().IsRegular() || info.Size() != e.size {
		return errors.New("changed while being packaged")
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, e.size); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("changed while being packaged")
		}
		return err
	}
	return nil
}

// counter counts the bytes written through it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// Load reads and checks the package at path, a package directory or an archive made by
// Build, with the checks of Build, and returns its manifest. Problems come back as a
// *config.Error; in an archive, files are named ARCHIVE/NAME.
func Load(path string) (*Manifest, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", path, err)
	}
	if info.IsDir() {
		b, err := openDir(path)
		if err != nil {
			return nil, err
		}
		b.root.Close()
		return b.manifest, nil
	}
	return readArchive(path)
}
