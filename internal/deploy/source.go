package deploy

import (
	"context"
	"fmt"
	"os"
)

// Package is a package ready to be shipped: its archive, manifest, size and SHA-256.
type Package struct {
	File     string
	Manifest *Manifest
	Size     int64
	SHA256   string
	temp     bool
}

// Open makes the package at path ready to ship: a package directory is built (Build) into a
// temporary archive, which Close removes; an archive is checked (Load) and used as it is.
func Open(ctx context.Context, path string) (*Package, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", path, err)
	}
	if !info.IsDir() {
		m, err := Load(path)
		if err != nil {
			return nil, err
		}
		sum, err := FileSHA256(path)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", path, err)
		}
		return &Package{File: path, Manifest: m, Size: info.Size(), SHA256: sum}, nil
	}
	f, err := os.CreateTemp("", "harness-package-*.tar.gz")
	if err != nil {
		return nil, err
	}
	res, err := Build(ctx, path, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &Package{File: f.Name(), Manifest: res.Manifest, Size: res.Size, SHA256: res.SHA256, temp: true}, nil
}

// ID is the name of the package's release: VERSION-SHA8.
func (p *Package) ID() string { return ReleaseID(p.Manifest.Version, p.SHA256) }

// Close removes the archive built by Open.
func (p *Package) Close() error {
	if p.temp {
		return os.Remove(p.File)
	}
	return nil
}
