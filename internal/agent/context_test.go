package agent

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// specRecorder is a docker target that records the specs it starts.
type specRecorder struct {
	*targettest.Fake
	mu    sync.Mutex
	specs []target.Spec
}

func (r *specRecorder) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	r.mu.Lock()
	r.specs = append(r.specs, spec)
	r.mu.Unlock()
	spec.Argv = []string{"image-cmd"}
	return r.Fake.Start(ctx, spec)
}

// A container built from a context of the controller: the context goes to the node once per
// content (.dockerignore honoured), and the node's target builds from its copy there.
func TestBuildContextShipped(t *testing.T) {
	agentDir := t.TempDir()
	rec := &specRecorder{Fake: targettest.NewFake()}
	srv := httptest.NewServer(NewHandler(map[string]target.Target{"docker": rec}, agentDir, "test", slog.New(slog.DiscardHandler)))
	defer srv.Close()
	c := NewClient("h1", ClientOptions{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}})
	defer c.Close()

	src := t.TempDir()
	for name, body := range map[string]string{
		"Dockerfile": "FROM scratch\nCOPY app /app\n", "app": "binary", "secret.env": "x", ".dockerignore": "secret.env\n",
		"sub/data.txt": "data",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := target.Spec{Stack: "s", Service: "web", Container: &target.Container{Image: "web:1", Build: &target.Build{Context: src}}}
	ctx := context.Background()
	for range 2 {
		h, err := c.Target("docker").Start(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Target("docker").Remove(ctx, h)
	}
	if len(rec.specs) != 2 || rec.specs[0].Container.Build.Context != rec.specs[1].Container.Build.Context {
		t.Fatalf("specs on the node: %+v", rec.specs)
	}
	there := rec.specs[0].Container.Build.Context
	if !strings.HasPrefix(there, filepath.Join(agentDir, "contexts", "s-web-")) {
		t.Errorf("context on the node at %s, want under %s", there, filepath.Join(agentDir, "contexts"))
	}
	var files []string
	_ = filepath.WalkDir(there, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(there, p)
			files = append(files, rel)
		}
		return err
	})
	slices.Sort(files)
	if diff := cmp.Diff([]string{".dockerignore", "Dockerfile", "app", "sub/data.txt"}, files); diff != "" {
		t.Errorf("files of the context on the node (-want +got):\n%s", diff)
	}
	if spec.Container.Build.Context != src {
		t.Error("Start changed the caller's spec")
	}
	if entries, _ := os.ReadDir(filepath.Join(agentDir, "contexts")); len(entries) != 1 {
		t.Errorf("contexts on the node: %v, want one", entries)
	}
}
