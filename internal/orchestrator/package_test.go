package orchestrator_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// pkgNode is a node whose process target is a Fake and whose releases are a real deploy.Dir
// on this host: the agent's side, without the agent. Releases whose ID starts with failing
// fail their health check.
type pkgNode struct {
	*netFake
	uploads atomic.Int64 // bytes
	failing atomic.Pointer[string]
	current atomic.Pointer[string] // the release of the last start
}

func (n *pkgNode) Releases(_ context.Context, dir string) (deploy.Listing, error) {
	return deploy.Dir(dir).List()
}

func (n *pkgNode) Upload(_ context.Context, dir, sum string, body io.Reader) (int64, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return 0, err
	}
	file := deploy.Dir(dir).ArchivePath(sum)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return 0, err
	}
	n.uploads.Add(int64(len(b)))
	return int64(len(b)), os.WriteFile(file, b, 0o644)
}

func (n *pkgNode) Install(ctx context.Context, dir string, req deploy.InstallRequest) (deploy.Release, error) {
	return deploy.Dir(dir).Install(ctx, req)
}

func (n *pkgNode) Activate(_ context.Context, dir, id string, keep int) (deploy.Release, error) {
	return deploy.Dir(dir).Activate(id, keep)
}

func (n *pkgNode) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	if spec.Service == "edge" {
		rel := filepath.Base(filepath.Dir(filepath.Dir(spec.Argv[0]))) // INSTALL/releases/ID/bin/edge
		n.current.Store(&rel)
	}
	return n.netFake.Start(ctx, spec)
}

// check is edge's health check: it fails while the release started last is a failing one.
func (n *pkgNode) check([]string) (target.ExecResult, error) {
	if f, cur := n.failing.Load(), n.current.Load(); f != nil && cur != nil && strings.HasPrefix(*cur, *f) {
		return target.ExecResult{ExitCode: 1, Output: []byte("broken release")}, nil
	}
	return target.ExecResult{}, nil
}

const packageStack = `version: "1.0"
name: p
networks:
  lan:
    type: lan
    subnet: 10.1.0.0/24
    nodes:
      - {name: na, host: 10.1.0.1, ssh_user: root}
services:
  b: {type: remote, host: na, binary: /usr/bin/b, ports: [7000]}
  edge: {type: package, host: na, package: ./edge, install_path: INSTALL, dependencies: [b], env: {MODE: prod}}
  front: {type: process, binary: front, args: ["${edge.addr}"], dependencies: [edge]}
`

// writeEdge writes the package directory dir/edge of version.
func writeEdge(t *testing.T, dir, version string) {
	t.Helper()
	for name, content := range map[string]string{
		"manifest.yaml": "name: edge\nversion: " + version + "\nservice:\n  executable: bin/edge\n  args: [--serve]\n  ports: [8080]\n" +
			"  health_check: {command: check-edge, interval: 1s, start_interval: 50ms, retries: 1}\nenvironment: {MODE: dev, LEVEL: info}\n",
		"bin/edge":         "#!/bin/sh\n",
		"config/edge.conf": "b=${B_ADDR}\n",
	} {
		p := filepath.Join(dir, "edge", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// A package service runs the current release of its node, installed from the package on the
// first start, with the manifest's check and port; a deploy whose release fails its check is
// rolled back; a dry run changes nothing; an adopted run keeps its release.
func TestPackageServices(t *testing.T) {
	dir := t.TempDir()
	install := filepath.Join(dir, "install")
	writeEdge(t, dir, "1.0.0")
	node := &pkgNode{netFake: &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}}
	node.SetScript("edge", targettest.Script{Output: []string{targettest.Ready}, Exec: node.check})
	local := &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}
	opts := orchestrator.Options{
		Targets: map[string]target.Target{"process": local},
		Nodes: func(*config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": node}, nil
		},
	}
	yaml := strings.Replace(packageStack, "INSTALL", install, 1)
	e := newTargetsEnv(t, dir, yaml, node.Fake, opts)
	ctx := context.Background()
	if _, err := e.o.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	l, err := deploy.Dir(install).List()
	if err != nil || len(l.Releases) != 1 || !l.Releases[0].Active {
		t.Fatalf("after start: %+v, %v; want one release, current", l, err)
	}
	v1 := l.Releases[0]
	spec := node.spec("edge")
	relDir := filepath.Join(install, "releases", v1.ID)
	if diff := cmp.Diff([]string{filepath.Join(relDir, "bin/edge"), "--serve"}, spec.Argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	for _, kv := range []string{"B_ADDR=127.0.0.1:7000", "MODE=prod", "LEVEL=info", "HARNESS_RELEASE=" + v1.ID, "HARNESS_VERSION=1.0.0", "HARNESS_SERVICE=edge"} {
		if !slices.Contains(spec.Env, kv) {
			t.Errorf("edge's environment lacks %s: %q", kv, spec.Env)
		}
	}
	if spec.Dir != relDir || spec.LogPath != "" {
		t.Errorf("edge's dir %q, log %q; want %s and the agent's log", spec.Dir, spec.LogPath, relDir)
	}
	if conf, _ := os.ReadFile(filepath.Join(relDir, "config/edge.conf")); string(conf) != "b=127.0.0.1:7000\n" {
		t.Errorf("config/edge.conf = %q", conf)
	}
	// front, on the controller, reaches edge at its node and the manifest's port; edge
	// waited for by front is healthy through the manifest's check.
	if got := local.spec("front").Argv; !slices.Equal(got, []string{"front", "10.1.0.1:8080"}) {
		t.Errorf("front's argv %q, want edge at 10.1.0.1:8080", got)
	}
	rec := record(t, e, "edge")
	if rec.Health != lifecycle.HealthHealthy || rec.Release == nil || rec.Release.ID != v1.ID {
		t.Errorf("edge's record: health %s, release %+v; want healthy, %s", rec.Health, rec.Release, v1.ID)
	}
	uploaded := node.uploads.Load()

	// The same package again: nothing uploaded, same release, started again.
	res, err := e.o.Deploy(ctx, "edge", orchestrator.DeployOptions{})
	if err != nil || res.Uploaded != 0 || res.To != v1.ID || res.Outcome != "ok" || node.uploads.Load() != uploaded {
		t.Errorf("deploy of the same package: %+v, %v", res, err)
	}

	// A dry run of version 2 plans an upload and changes nothing.
	writeEdge(t, dir, "2.0.0")
	plan, err := e.o.Deploy(ctx, "edge", orchestrator.DeployOptions{DryRun: true})
	if err != nil || plan.Outcome != "planned" || !strings.HasPrefix(plan.Plan[0], "upload edge-2.0.0.tar.gz") {
		t.Errorf("dry run: %+v, %v", plan, err)
	}
	if node.uploads.Load() != uploaded || current(t, install) != v1.ID {
		t.Error("the dry run changed something")
	}

	// Version 2 fails its check: rolled back to version 1, which runs again.
	node.failing.Store(ptr("2.0.0-"))
	res, err = e.o.Deploy(ctx, "edge", orchestrator.DeployOptions{})
	var derr *orchestrator.DeployError
	if !errors.As(err, &derr) || res.Outcome != "rolled-back" || res.From != v1.ID || !strings.HasPrefix(res.To, "2.0.0-") {
		t.Fatalf("deploy of a failing release: %+v, %v; want rolled back to %s", res, err, v1.ID)
	}
	if !strings.Contains(err.Error(), "edge is unhealthy: exit status 1: broken release") {
		t.Errorf("the error does not say why: %v", err)
	}
	if current(t, install) != v1.ID {
		t.Errorf("current -> %s, want %s", current(t, install), v1.ID)
	}
	rec = record(t, e, "edge")
	if rec.State != lifecycle.Running || rec.Release.ID != v1.ID {
		t.Errorf("after the rollback edge is %s on %+v, want running %s", rec.State, rec.Release, v1.ID)
	}
	var outcomes []string
	for _, d := range rec.Deploys {
		outcomes = append(outcomes, d.Outcome)
	}
	if diff := cmp.Diff([]string{"ok", "rolled-back"}, outcomes); diff != "" {
		t.Errorf("deploy history (-want +got):\n%s", diff)
	}

	// --no-rollback leaves the failing release current; a rollback then goes back.
	res, err = e.o.Deploy(ctx, "edge", orchestrator.DeployOptions{NoRollback: true})
	if err == nil || res.Outcome != "failed" || current(t, install) != res.To {
		t.Errorf("deploy --no-rollback: %+v, %v; want failed and %s current", res, err, res.To)
	}
	node.failing.Store(nil)
	if res, err := e.o.Deploy(ctx, "edge", orchestrator.DeployOptions{Rollback: true}); err != nil || res.To != v1.ID {
		t.Errorf("rollback: %+v, %v; want %s", res, err, v1.ID)
	}
	if _, err := e.o.Deploy(ctx, "edge", orchestrator.DeployOptions{Rollback: true, Version: "9.9"}); !errors.Is(err, orchestrator.ErrNoRelease) {
		t.Errorf("rollback to a version the node lacks: %v, want ErrNoRelease", err)
	}
	if _, err := e.o.Deploy(ctx, "b", orchestrator.DeployOptions{}); !errors.Is(err, orchestrator.ErrNotPackage) {
		t.Errorf("deploy of a remote process: %v, want ErrNotPackage", err)
	}

	// A restarted orchestrator adopts edge with its release: its manifest's check still runs.
	e.stop()
	e.stop = nil
	e2 := newTargetsEnv(t, dir, yaml, node.Fake, opts)
	if svc := e2.o.Service("edge"); svc.HealthCheck == nil || len(svc.Ports) != 1 || svc.Ports[0].Target != 8080 {
		t.Errorf("adopted edge runs as %+v; want the manifest's check and port", svc)
	}
}

func ptr[T any](v T) *T { return &v }

// current is the release the current link of install points at.
func current(t *testing.T, install string) string {
	t.Helper()
	link, err := os.Readlink(filepath.Join(install, "current"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(link)
}

// record is the registry's record of service.
func record(t *testing.T, e *env, service string) (rec registry.Record) {
	t.Helper()
	for _, r := range e.o.Status() {
		if r.Key.Service == service {
			return r
		}
	}
	t.Fatalf("no record of %s", service)
	return rec
}

// A first start of a service whose file asks for a version the node holds (but not as
// current) runs that release, without building or uploading the package.
func TestPackageStartHeldVersion(t *testing.T) {
	dir := t.TempDir()
	install := filepath.Join(dir, "install")
	writeEdge(t, dir, "1.0.0")
	pkg, err := deploy.Open(context.Background(), filepath.Join(dir, "edge"))
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	node := &pkgNode{netFake: &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}}
	f, err := os.Open(pkg.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := node.Upload(context.Background(), install, pkg.SHA256, f); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Dir(install).Install(context.Background(), deploy.InstallRequest{SHA256: pkg.SHA256, Env: []string{"B_ADDR=x"}}); err != nil {
		t.Fatal(err)
	}
	uploaded := node.uploads.Load()
	writeEdge(t, dir, "2.0.0") // the package moved on; the file pins 1.0.0
	node.SetScript("edge", targettest.Script{Output: []string{targettest.Ready}, Exec: node.check})
	yaml := strings.Replace(strings.Replace(packageStack, "INSTALL", install, 1), "dependencies: [b],", "version: 1.0.0, dependencies: [b],", 1)
	e := newTargetsEnv(t, dir, yaml, node.Fake, orchestrator.Options{
		Targets: map[string]target.Target{"process": &netFake{Fake: targettest.NewFake(), specs: map[string]target.Spec{}}},
		Nodes: func(*config.Node) (map[string]target.Target, error) {
			return map[string]target.Target{"process": node}, nil
		},
	})
	if _, err := e.o.Start(context.Background(), "edge"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if cur := current(t, install); cur != pkg.ID() {
		t.Errorf("current -> %s, want the held %s", cur, pkg.ID())
	}
	if got := node.uploads.Load(); got != uploaded {
		t.Errorf("start uploaded %d bytes, want nothing", got-uploaded)
	}
}
