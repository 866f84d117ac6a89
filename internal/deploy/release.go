package deploy

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/target"
)

// A package service's install directory on its node (install_path):
//
//	INSTALL/
//	  archives/SHA256.tar.gz     uploaded packages, kept while a release of them is kept
//	  releases/VERSION-SHA8/     a release: the unpacked package, config/ rendered
//	    harness.env              the service's environment on this node (0600)
//	    .harness-setup.log       the output of scripts/setup.sh
//	    .harness-release.json    written last: a release without it is incomplete
//	  current -> releases/VERSION-SHA8
const (
	// EnvFile is the environment file of a release, KEY='VALUE' lines for sh.
	EnvFile     = "harness.env"
	metaFile    = ".harness-release.json"
	setupLog    = ".harness-setup.log"
	currentLink = "current"
	lockFile    = ".lock"
)

// The scripts of a package, by role.
const (
	SetupScript = "scripts/setup.sh"
	StartScript = "scripts/start.sh"
	StopScript  = "scripts/stop.sh"
)

// setupOutput bounds the output of setup.sh kept for an error message.
const setupOutput = 2 << 10

// Release is one installed release of a package on a node.
type Release struct {
	// ID is VERSION-SHA8: the directory's name under releases/.
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	// Dir is the release's directory on the node.
	Dir string `json:"dir"`
	// Scripts are the package's scripts present (SetupScript, StartScript, StopScript).
	Scripts []string `json:"scripts,omitempty"`
	// Manifest is the package's manifest.yaml, as packed.
	Manifest  []byte    `json:"manifest"`
	Installed time.Time `json:"installed"`
	// Activated is the last time it became current; zero when never.
	Activated time.Time `json:"activated,omitzero"`
	// Active: current points at it (set by List and Activate, not stored).
	Active bool `json:"active"`
}

// Has reports whether the release's package has script.
func (r Release) Has(script string) bool { return slices.Contains(r.Scripts, script) }

// ReleaseID is the name of the release of version from the archive of SHA-256 sum.
func ReleaseID(version, sum string) string { return version + "-" + sum[:min(8, len(sum))] }

// Listing is what a node holds of a package service.
type Listing struct {
	// Releases are the complete releases, the most recently activated (or installed) first.
	Releases []Release `json:"releases"`
	// Archives are the SHA-256 sums of the archives present.
	Archives []string `json:"archives"`
}

// Current returns the active release.
func (l Listing) Current() (Release, bool) {
	for _, r := range l.Releases {
		if r.Active {
			return r, true
		}
	}
	return Release{}, false
}

// HasArchive reports whether the archive of SHA-256 sum is there.
func (l Listing) HasArchive(sum string) bool { return slices.Contains(l.Archives, sum) }

// InstallRequest asks a node to install the release of an uploaded archive.
type InstallRequest struct {
	SHA256 string `json:"sha256"`
	// ID, when the release may be installed already (a start of the current release), names
	// it: then only its environment and config/ are written again, without reading the whole
	// archive.
	ID string `json:"id,omitempty"`
	// Env is the service's environment on the node (NAME=VALUE): written to the release's
	// EnvFile, given to setup.sh, and what config/ templates are rendered with.
	Env []string `json:"env"`
}

// Dir is a package service's install directory on its node. Its methods are the node's side
// of a deploy (the agent calls them); those that change it hold an flock on INSTALL/.lock.
type Dir string

// ArchivePath is where the archive of SHA-256 sum is kept.
func (d Dir) ArchivePath(sum string) string {
	return filepath.Join(string(d), "archives", sum+".tar.gz")
}

func (d Dir) releaseDir(id string) string { return filepath.Join(string(d), "releases", id) }

// checkSum refuses anything but a hex SHA-256: it names files.
func checkSum(sum string) error {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size || strings.ToLower(sum) != sum {
		return fmt.Errorf("sha256 %q: want 64 lower-case hex digits: %w", sum, target.ErrInvalidSpec)
	}
	return nil
}

// List returns the complete releases and the archives of d; a directory that does not exist
// holds nothing.
func (d Dir) List() (Listing, error) {
	out := Listing{Releases: []Release{}, Archives: []string{}}
	current, _ := os.Readlink(filepath.Join(string(d), currentLink))
	dirs, err := os.ReadDir(filepath.Join(string(d), "releases"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return out, err
	}
	for _, e := range dirs {
		rel, err := d.read(e.Name())
		if err != nil {
			continue // incomplete, or not a release
		}
		rel.Active = current == filepath.Join("releases", rel.ID)
		out.Releases = append(out.Releases, rel)
	}
	slices.SortStableFunc(out.Releases, func(a, b Release) int { return lastUsed(b).Compare(lastUsed(a)) })
	archives, _ := filepath.Glob(filepath.Join(string(d), "archives", "*.tar.gz"))
	for _, a := range archives {
		if sum := strings.TrimSuffix(filepath.Base(a), ".tar.gz"); checkSum(sum) == nil {
			out.Archives = append(out.Archives, sum)
		}
	}
	return out, nil
}

// lastUsed is when r last became current, or was installed.
func lastUsed(r Release) time.Time {
	if r.Activated.After(r.Installed) {
		return r.Activated
	}
	return r.Installed
}

// read reads the record of the complete release id.
func (d Dir) read(id string) (Release, error) {
	var rel Release
	b, err := os.ReadFile(filepath.Join(d.releaseDir(id), metaFile))
	if err == nil {
		err = json.Unmarshal(b, &rel)
	}
	if err == nil && rel.ID != id {
		err = fmt.Errorf("release %s: its record names %s", id, rel.ID)
	}
	rel.Dir = d.releaseDir(id)
	return rel, err
}

// write stores the record of rel, atomically.
func (d Dir) write(rel Release) error {
	rel.Active = false
	b, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(rel.Dir, metaFile), append(b, '\n'), 0o644)
}

// lock takes the flock of d, creating d if needed; the returned function releases it.
func (d Dir) lock() (func(), error) {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(string(d), lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Install installs the release of the archive req.SHA256, uploaded to ArchivePath before: a
// new release is checked (as Load does), unpacked, and its scripts/setup.sh run, once; every
// Install (of a new release or one already there) renders the package's config/ templates
// with req.Env and writes the release's EnvFile, so a release started again gets the
// addresses of now. A release whose unpack or setup fails is removed: only complete releases
// are listed, or activated.
func (d Dir) Install(ctx context.Context, req InstallRequest) (Release, error) {
	if err := checkSum(req.SHA256); err != nil {
		return Release{}, err
	}
	unlock, err := d.lock()
	if err != nil {
		return Release{}, err
	}
	defer unlock()
	archive := d.ArchivePath(req.SHA256)
	m, rel, err := d.installed(req)
	fresh := false
	if err != nil {
		if m, err = checkArchive(archive, req.SHA256); err != nil {
			return Release{}, err
		}
		id := ReleaseID(m.Version, req.SHA256)
		if rel, err = d.read(id); err != nil {
			fresh = true
			rel = Release{ID: id, Name: m.Name, Version: m.Version, SHA256: req.SHA256, Dir: d.releaseDir(id)}
			if err := d.unpack(archive, rel); err != nil {
				return Release{}, fmt.Errorf("install %s: %w", id, err)
			}
		}
	}
	env, err := environ(req.Env)
	if err == nil {
		err = missing(m.Requires.Commands, env)
	}
	if err == nil {
		err = d.configure(archive, rel, env)
	}
	if err != nil {
		return Release{}, d.discard(fresh, rel, err)
	}
	if !fresh {
		return rel, nil
	}
	if rel.Manifest, err = os.ReadFile(filepath.Join(rel.Dir, ManifestFile)); err != nil {
		return Release{}, d.discard(fresh, rel, err)
	}
	for _, s := range scripts {
		if _, err := os.Stat(filepath.Join(rel.Dir, s)); err == nil {
			rel.Scripts = append(rel.Scripts, s)
		}
	}
	if rel.Has(SetupScript) {
		if err := setup(ctx, rel, req.Env); err != nil {
			return Release{}, d.discard(fresh, rel, err)
		}
	}
	rel.Installed = time.Now().UTC()
	if err := d.write(rel); err != nil {
		return Release{}, d.discard(fresh, rel, err)
	}
	return rel, nil
}

// checkArchive checks the package archive (as Load does) and its SHA-256, and returns its
// manifest.
func checkArchive(archive, sum string) (*Manifest, error) {
	m, err := Load(archive)
	if err != nil {
		return nil, err
	}
	if got, err := FileSHA256(archive); err != nil {
		return nil, err
	} else if got != sum {
		return nil, fmt.Errorf("archive %s: its sha256 is %s", archive, got)
	}
	return m, nil
}

// installed returns the release req.ID and its manifest when it is installed from the
// archive req.SHA256 (its archive was checked then: it is not read again).
func (d Dir) installed(req InstallRequest) (*Manifest, Release, error) {
	if !packageName.MatchString(req.ID) {
		return nil, Release{}, fmt.Errorf("release %q: %w", req.ID, target.ErrNotFound)
	}
	rel, err := d.read(req.ID)
	if err != nil {
		return nil, Release{}, err
	}
	if rel.SHA256 != req.SHA256 {
		return nil, Release{}, fmt.Errorf("release %s is of sha256 %s, not %s: %w", rel.ID, rel.SHA256, req.SHA256, target.ErrNotFound)
	}
	m, err := ParseManifest(filepath.Join(rel.Dir, ManifestFile), rel.Manifest)
	return m, rel, err
}

// discard removes the release rel when it was being installed (fresh), and returns err.
func (d Dir) discard(fresh bool, rel Release, err error) error {
	if fresh {
		_ = os.RemoveAll(rel.Dir)
	}
	return fmt.Errorf("install %s: %w", rel.ID, err)
}

// unpack unpacks archive to the directory of rel, replacing what an interrupted install left.
func (d Dir) unpack(archive string, rel Release) error {
	if err := os.RemoveAll(rel.Dir); err != nil {
		return err
	}
	f, zr, err := openGzip(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return Unpack(zr, rel.Dir)
}

// openGzip opens the gzip file and returns it, to close, and its content.
func openGzip(file string) (*os.File, *gzip.Reader, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, zr, nil
}

// configure renders the config/ templates of archive into the release rel with env, and
// writes its EnvFile: every template is rendered before any file is written, so a template
// that does not render leaves the release as it was.
func (d Dir) configure(archive string, rel Release, env map[string]string) error {
	type rendered struct {
		name string
		mode fs.FileMode
		data []byte
	}
	var files []rendered
	if _, err := os.Stat(filepath.Join(rel.Dir, "config")); err == nil { // else no template to read
		err := eachFile(archive, "config/", func(name string, mode fs.FileMode, data []byte) error {
			out, err := Render(name, data, env)
			files = append(files, rendered{name, mode, out})
			return err
		})
		if err != nil {
			return err
		}
	}
	files = append(files, rendered{EnvFile, 0o600, envFile(env)})
	root, err := os.OpenRoot(rel.Dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, f := range files {
		if err := writeAtomicIn(root, f.name, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// eachFile calls fn with every regular file of archive whose name starts with prefix.
func eachFile(archive, prefix string, fn func(name string, mode fs.FileMode, data []byte) error) error {
	f, zr, err := openGzip(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg || !strings.HasPrefix(hdr.Name, prefix) {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := fn(hdr.Name, fs.FileMode(hdr.Mode).Perm(), data); err != nil {
			return err
		}
	}
}

// environ maps NAME=VALUE entries; a later entry wins. A name that sh cannot read back from
// the EnvFile is refused.
func environ(env []string) (map[string]string, error) {
	out := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("environment %q: want NAME=VALUE, NAME of letters, digits and _: %w", kv, target.ErrInvalidSpec)
		}
		out[k] = v
	}
	return out, nil
}

// envFile writes env as sorted NAME='VALUE' lines, which sh reads back exactly
// (set -a; . ./harness.env).
func envFile(env map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString("# written by harness at each start of the service: edits do not last\n")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&b, "%s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return b.Bytes()
}

// defaultPath is searched for required commands when the environment sets no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// missing reports the commands that cannot be found on the node, with env's PATH.
func missing(commands []string, env map[string]string) error {
	dirs := filepath.SplitList(cmp.Or(env["PATH"], defaultPath))
	var gone []string
	for _, c := range commands {
		found := false
		if strings.Contains(c, "/") {
			found = executable(c)
		} else {
			for _, dir := range dirs {
				if found = executable(filepath.Join(dir, c)); found {
					break
				}
			}
		}
		if !found {
			gone = append(gone, c)
		}
	}
	if len(gone) > 0 {
		return fmt.Errorf("requires.commands: not found on the node: %s", strings.Join(gone, ", "))
	}
	return nil
}

func executable(file string) bool {
	info, err := os.Stat(file)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}

// setup runs the release's setup script in its directory with env; its output goes to the
// release's setup log, and the end of it into the error when it fails.
func setup(ctx context.Context, rel Release, env []string) error {
	log, err := os.OpenFile(filepath.Join(rel.Dir, setupLog), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	tail := &tailBuffer{max: setupOutput}
	cmd := exec.CommandContext(ctx, filepath.Join(rel.Dir, SetupScript))
	cmd.Dir, cmd.Env = rel.Dir, append([]string{}, env...) // never nil: nil inherits the agent's
	cmd.Stdout = io.MultiWriter(log, tail)
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		out := strings.TrimSpace(tail.String())
		if out != "" {
			out = ":\n" + out
		}
		return fmt.Errorf("%s: %w%s", SetupScript, err, out)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// Activate makes the complete release id current, by replacing the current link atomically,
// then removes the releases beyond the keep most recently used (never the current one) and
// the archives no kept release comes from.
func (d Dir) Activate(id string, keep int) (Release, error) {
	unlock, err := d.lock()
	if err != nil {
		return Release{}, err
	}
	defer unlock()
	rel, err := d.read(id)
	if err != nil {
		return Release{}, fmt.Errorf("activate %s: not a complete release on this node: %w", id, target.ErrNotFound)
	}
	rel.Activated = time.Now().UTC()
	if err := d.write(rel); err != nil {
		return Release{}, err
	}
	tmp := filepath.Join(string(d), fmt.Sprintf(".%s.tmp-%d", currentLink, time.Now().UnixNano()))
	if err := os.Symlink(path.Join("releases", id), tmp); err != nil {
		return Release{}, err
	}
	if err := os.Rename(tmp, filepath.Join(string(d), currentLink)); err != nil {
		os.Remove(tmp)
		return Release{}, err
	}
	if err := syncDir(string(d)); err != nil {
		return Release{}, err
	}
	rel.Active = true
	return rel, d.prune(max(keep, 1))
}

// prune keeps the keep most recently used releases (the current one first) and their
// archives, and removes every other release, archive, and leftover of an interrupted install.
func (d Dir) prune(keep int) error {
	l, err := d.List()
	if err != nil {
		return err
	}
	slices.SortStableFunc(l.Releases, func(a, b Release) int {
		if a.Active != b.Active {
			if a.Active {
				return -1
			}
			return 1
		}
		return 0
	})
	kept := map[string]bool{}
	var errs []error
	for i, r := range l.Releases {
		if i < keep {
			kept[r.ID], kept[r.SHA256] = true, true
			continue
		}
		errs = append(errs, os.RemoveAll(r.Dir))
	}
	entries, _ := os.ReadDir(filepath.Join(string(d), "releases"))
	for _, e := range entries {
		if !kept[e.Name()] {
			errs = append(errs, os.RemoveAll(d.releaseDir(e.Name())))
		}
	}
	for _, sum := range l.Archives {
		if !kept[sum] {
			errs = append(errs, os.Remove(d.ArchivePath(sum)))
		}
	}
	return errors.Join(errs...)
}

// FileSHA256 is the hex SHA-256 of file.
func FileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeAtomic writes file through a synced temporary file renamed into place.
func writeAtomic(file string, data []byte, mode fs.FileMode) error {
	dir, name := filepath.Split(file)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return writeAtomicIn(root, name, data, mode)
}

// writeAtomicIn writes name under root through a synced temporary file renamed into place.
func writeAtomicIn(root *os.Root, name string, data []byte, mode fs.FileMode) error {
	tmp := path.Join(path.Dir(name), fmt.Sprintf(".%s.tmp-%d", path.Base(name), time.Now().UnixNano()))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		_ = root.Remove(tmp)
	}
	return err
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
