package image

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

const (
	// defaultDockerfile is the Dockerfile of a build that names none.
	defaultDockerfile = "Dockerfile"
	// ignoreFile lists the paths of a context that are not sent.
	ignoreFile = ".dockerignore"
)

// buildContext is the list of what a build sends to the engine. It holds names and types
// only; the files are read when the context is sent or hashed.
type buildContext struct {
	dir        string  // the context directory
	dockerfile string  // slash path of the Dockerfile, relative to dir
	entries    []entry // in walk order: a directory's entries sorted by name, after it
}

// entry is one file of a build context.
type entry struct {
	name string      // slash path relative to the context, never "." and never with ".."
	mode fs.FileMode // type and permission bits, as lstat reports them
	size int64       // of a regular file
	link string      // target of a symlink
}

// scan lists the files of the context dir that the engine receives for a build with the
// Dockerfile dockerfile (relative to dir; "" is Dockerfile): those .dockerignore does not
// exclude, plus the Dockerfile and .dockerignore, which are always sent.
func scan(dir, dockerfile string) (*buildContext, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	bc := &buildContext{dir: dir}
	if bc.dockerfile, err = dockerfilePath(root, dir, dockerfile); err != nil {
		return nil, err
	}
	ignore, err := ignorePatterns(root, bc.dockerfile)
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		excluded, err := ignore.MatchesOrParentMatches(name)
		if err != nil {
			return fmt.Errorf("%s %s: %w", ignoreFile, name, err)
		}
		if excluded {
			if d.IsDir() && !mayInclude(ignore, name) {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{name: name, mode: info.Mode()}
		switch {
		case e.mode.IsRegular():
			e.size = info.Size()
		case e.mode.IsDir():
		case e.mode&fs.ModeSymlink != 0:
			if e.link, err = root.Readlink(name); err != nil {
				return err
			}
		default:
			return nil // sockets, devices and pipes are not sent
		}
		bc.entries = append(bc.entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk: %w", err)
	}
	return bc, nil
}

// dockerfilePath checks that the Dockerfile dockerfile exists in the context dir opened as
// root and returns its slash path relative to the context.
func dockerfilePath(root *os.Root, dir, dockerfile string) (string, error) {
	if dockerfile == "" {
		dockerfile = defaultDockerfile
	}
	rel := filepath.Clean(dockerfile)
	if filepath.IsAbs(rel) {
		r, err := filepath.Rel(dir, rel)
		if err != nil {
			return "", fmt.Errorf("dockerfile %s: %w", dockerfile, err)
		}
		rel = r
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("dockerfile %s is outside the build context", dockerfile)
	}
	info, err := root.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("dockerfile %s: %w", filepath.Join(dir, rel), fs.ErrNotExist)
	case err != nil:
		return "", fmt.Errorf("dockerfile: %w", err)
	case !info.Mode().IsRegular():
		return "", fmt.Errorf("dockerfile %s is not a regular file", filepath.Join(dir, rel))
	}
	return filepath.ToSlash(rel), nil
}

// ignorePatterns reads .dockerignore, if any, and adds re-includes of the Dockerfile and of
// .dockerignore itself when the patterns exclude them, as the docker CLI does.
func ignorePatterns(root *os.Root, dockerfile string) (*patternmatcher.PatternMatcher, error) {
	data, err := root.ReadFile(ignoreFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ignoreFile, err)
	}
	for _, always := range []string{ignoreFile, dockerfile} {
		if excluded, _ := patternmatcher.MatchesOrParentMatches(always, patterns); excluded {
			patterns = append(patterns, "!"+always)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ignoreFile, err)
	}
	return pm, nil
}

// mayInclude reports whether a `!` pattern may re-include something under the excluded
// directory dir, which must then be walked. Like docker, it compares literal prefixes: a
// re-include that starts with a wildcard does not open an excluded directory.
func mayInclude(pm *patternmatcher.PatternMatcher, dir string) bool {
	if !pm.Exclusions() {
		return false
	}
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(p.String()+"/", dir+"/") {
			return true
		}
	}
	return false
}
