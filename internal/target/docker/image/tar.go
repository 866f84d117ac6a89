package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"
)

// hash returns the first 12 hex digits of the sha256 of the Dockerfile's path, the build
// args args in key order and the tar of the context, which is what the engine receives.
func (bc *buildContext) hash(ctx context.Context, args map[string]string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "harness build 1\ndockerfile %q\n", bc.dockerfile)
	for _, k := range slices.Sorted(maps.Keys(args)) {
		fmt.Fprintf(h, "arg %q=%q\n", k, args[k])
	}
	if err := bc.writeTar(ctx, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// writeTar writes the context to w as a reproducible tar: entries in walk order, mtimes at
// the epoch, uid and gid 0, no user or group names. Files are opened through the context's
// root and streamed.
func (bc *buildContext) writeTar(ctx context.Context, w io.Writer) error {
	root, err := os.OpenRoot(bc.dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	for _, e := range bc.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeEntry(tw, root, e); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return tw.Close()
}

// writeEntry writes the header of e and, for a regular file, its content.
func writeEntry(tw *tar.Writer, root *os.Root, e entry) error {
	hdr := &tar.Header{
		Name:    e.name,
		Mode:    tarMode(e.mode),
		ModTime: time.Unix(0, 0), // mtimes are not content
	}
	switch {
	case e.mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case e.mode&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.link
	default:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = e.size
	}
	if hdr.Typeflag != tar.TypeReg {
		return tw.WriteHeader(hdr)
	}
	f, err := root.Open(e.name)
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return err
	} else if !info.Mode().IsRegular() {
		return errors.New("no longer a regular file")
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, e.size); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("file shrank while being read")
		}
		return err
	}
	return nil
}

// tarMode is the mode field of a tar header for a file of mode m: the permission bits plus
// setuid, setgid and sticky.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// ContextHash is the hash of the build context dir with the Dockerfile dockerfile (relative to
// dir; "" is Dockerfile), .dockerignore honoured: the tag of its image is
// harness/STACK-SERVICE:HASH when args are its build args. Equal contexts have equal hashes.
func ContextHash(ctx context.Context, dir, dockerfile string, args map[string]string) (string, error) {
	bc, err := scan(dir, dockerfile)
	if err != nil {
		return "", fmt.Errorf("build context %s: %w", dir, err)
	}
	return bc.hash(ctx, args)
}

// WriteContext writes to w the build context dir with the Dockerfile dockerfile as the
// reproducible tar that a build sends to the engine (.dockerignore honoured): unpacked
// elsewhere, it is the same context.
func WriteContext(ctx context.Context, dir, dockerfile string, w io.Writer) error {
	bc, err := scan(dir, dockerfile)
	if err != nil {
		return fmt.Errorf("build context %s: %w", dir, err)
	}
	return bc.writeTar(ctx, w)
}
