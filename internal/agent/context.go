package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/internal/target/docker/image"
	"github.com/graph-network-harness/harness/target"
)

// Build contexts on a node: a container of a remote node built from a context on the
// controller. The client sends the context once per content (its hash names it), as the tar
// a build sends; the agent unpacks it to DIR/contexts/NAME-HASH, where the node's Docker target
// builds from it as from any directory. A node keeps the latest context of each name.

// contextRequest names a context: NAME (STACK-SERVICE) and the hash of its content.
type contextRequest struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// contextResponse is where a context is on the node, and whether it is there.
type contextResponse struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
}

// contextDir is where the context req is unpacked.
func (s *server) contextDir(req contextRequest) (string, error) {
	for _, p := range []string{req.Name, req.Hash} {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, `/\`) {
			return "", fmt.Errorf("context %q %q: bad name or hash: %w", req.Name, req.Hash, target.ErrInvalidSpec)
		}
	}
	return filepath.Join(s.dir, "contexts", req.Name+"-"+req.Hash), nil
}

// contextStat answers where the context of the request is and whether it is there.
func (s *server) contextStat(w http.ResponseWriter, r *http.Request) {
	var req contextRequest
	if !s.decode(w, r, &req) {
		return
	}
	dir, err := s.contextDir(req)
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	_, err = os.Stat(dir)
	s.reply(w, contextResponse{Path: dir, Exists: err == nil}, nil)
}

// contextPut unpacks the tar of the request's body to the context ?name=&hash=: into a
// temporary directory, renamed into place when whole; then the older contexts of that name go.
func (s *server) contextPut(w http.ResponseWriter, r *http.Request) {
	req := contextRequest{Name: r.URL.Query().Get("name"), Hash: r.URL.Query().Get("hash")}
	dir, err := s.contextDir(req)
	if err == nil {
		err = deploy.Unpack(r.Body, dir)
	}
	if err == nil {
		pruneContexts(filepath.Dir(dir), req.Name, dir)
	}
	s.reply(w, contextResponse{Path: dir, Exists: err == nil}, err)
}

// pruneContexts removes the contexts of name in dir but keep.
func pruneContexts(dir, name, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, name+"-*"))
	for _, p := range old {
		if p != keep {
			_ = os.RemoveAll(p)
		}
	}
}

// shipContext makes the build context of spec, a directory of this host, present on the
// agent's node, and returns spec with Build.Context the directory there. The context is sent
// only when the node lacks it.
func (c *Client) shipContext(ctx context.Context, spec target.Spec) (target.Spec, error) {
	b := *spec.Container.Build
	hash, err := image.ContextHash(ctx, b.Context, b.Dockerfile, nil)
	if err != nil {
		return spec, fmt.Errorf("%w: %w", err, target.ErrInvalidSpec)
	}
	req := contextRequest{Name: spec.Stack + "-" + spec.Service, Hash: hash}
	var where contextResponse
	if err := c.call(ctx, "context-stat", req, &where); err != nil {
		return spec, err
	}
	if !where.Exists {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(image.WriteContext(ctx, b.Context, b.Dockerfile, pw)) }()
		q := url.Values{"name": {req.Name}, "hash": {req.Hash}}
		rc, err := c.send(ctx, "context?"+q.Encode(), "application/x-tar", pr, false)
		pr.CloseWithError(errors.New("sent")) // ends the writer if the request ended first
		if err != nil {
			return spec, fmt.Errorf("send the build context %s: %w", b.Context, err)
		}
		rc.Close()
	}
	b.Context = where.Path
	cont := *spec.Container
	cont.Build = &b
	spec.Container = &cont
	return spec, nil
}
