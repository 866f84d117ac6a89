package deploy

import (
	"context"
	"io"
)

// Node is a node's side of deploys as the controller reaches it: the agent's release
// operations on a package service's install directory dir (absolute, on the node), which do
// what Dir's methods of the same names do there.
type Node interface {
	// Releases lists what dir holds.
	Releases(ctx context.Context, dir string) (Listing, error)
	// Upload writes body, the archive of SHA-256 sum, to its place in dir: whole, checked
	// against sum, or not at all. It returns the bytes sent.
	Upload(ctx context.Context, dir, sum string, body io.Reader) (int64, error)
	Install(ctx context.Context, dir string, req InstallRequest) (Release, error)
	Activate(ctx context.Context, dir, id string, keep int) (Release, error)
}
