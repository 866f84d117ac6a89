package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/agent"
	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

// TestHelperProcess is the service of the tests when the environment asks for a Behaviour.
func TestHelperProcess(*testing.T) { targettest.HelperMain() }

// serve runs a real agent (the local node's targets) on a fresh dir until the test ends and
// returns its dir.
func serve(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "agent")
	serveOn(t, dir)
	return dir
}

// serveOn runs an agent on dir until the test ends or the returned stop is called.
func serveOn(t *testing.T, dir string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, agent.Options{Dir: dir, Version: "test"}) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	sock := filepath.Join(dir, agent.SocketName)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent does not listen on %s", sock)
		}
	}
}

// client returns a client of the agent in dir, as node "h1".
func client(t *testing.T, dir string) *agent.Client {
	c := agent.NewClient("h1", agent.ClientOptions{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, agent.SocketName))
	}})
	t.Cleanup(c.Close)
	return c
}

func helperSpec(t *testing.T, b targettest.Behaviour) target.Spec {
	return target.Spec{
		Stack: "test", Service: "svc",
		Argv:       []string{os.Args[0], "-test.run=^TestHelperProcess$"},
		Env:        b.Env(),
		LogPath:    filepath.Join(t.TempDir(), "svc.log"),
		StopSignal: "SIGTERM",
	}
}

// The process target through the agent's API passes the conformance suite: handles name the
// client's node, errors keep their sentinels, logs and waits stream across the socket.
func TestConformanceOverTheWire(t *testing.T) {
	dir := serve(t)
	targettest.Run(t, targettest.Harness{
		New:  func(t *testing.T) target.Target { return client(t, dir).Target("process") },
		Spec: helperSpec,
		Reused: func(h target.Handle) target.Handle { // PID:STARTTIME with another start time
			pid, ticks, _ := strings.Cut(h.ID, ":")
			n, _ := strconv.ParseUint(ticks, 10, 64)
			h.ID = pid + ":" + strconv.FormatUint(n+1, 10)
			return h
		},
	})
}

// An agent that is going away accepts connections and drops them unanswered: a request that
// changes nothing is sent again, on a new connection, until one answers; any other is not,
// and nothing is when the node itself does not answer.
func TestDroppedRequestsResent(t *testing.T) {
	dir := serve(t)
	dying := filepath.Join(t.TempDir(), "dying.sock")
	ln, err := net.Listen("unix", dying)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var drops, toDying atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 1)) // the request came; what is left unread resets it
			drops.Add(1)
			conn.Close()
		}
	}()
	var nodeDown atomic.Bool
	c := agent.NewClient("h1", agent.ClientOptions{
		Dial: func(ctx context.Context) (net.Conn, error) {
			sock := filepath.Join(dir, agent.SocketName)
			if toDying.Add(-1) >= 0 {
				sock = dying
			}
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		Ping: func(context.Context) error {
			if nodeDown.Load() {
				return fmt.Errorf("no answer: %w", target.ErrUnreachable)
			}
			return nil
		},
	})
	defer c.Close()
	ctx := t.Context()

	toDying.Store(3)
	if _, err := c.Info(ctx); err != nil {
		t.Errorf("Info after 3 dropped connections: %v", err)
	}
	if diff := cmp.Diff(int32(3), drops.Load()); diff != "" {
		t.Errorf("dropped Info requests (-want +got):\n%s", diff)
	}
	c.Close() // no kept-alive connection: the next request dials
	toDying.Store(1)
	_, err = c.Target("process").Start(ctx, helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm}))
	if !errors.Is(err, target.ErrUnreachable) {
		t.Errorf("Start on a dropped connection = %v, want target.ErrUnreachable", err)
	}
	if diff := cmp.Diff(int32(4), drops.Load()); diff != "" {
		t.Errorf("dropped requests after a Start (-want +got):\n%s", diff)
	}
	// A node that does not answer: its connection was closed for it, nothing is sent again.
	nodeDown.Store(true)
	toDying.Store(3)
	if _, err := c.Info(ctx); !errors.Is(err, target.ErrUnreachable) {
		t.Errorf("Info with the node down = %v, want target.ErrUnreachable", err)
	}
	if diff := cmp.Diff(int32(5), drops.Load()); diff != "" {
		t.Errorf("dropped requests after an Info with the node down (-want +got):\n%s", diff)
	}
}

func TestInfo(t *testing.T) {
	info, err := client(t, serve(t)).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if info.Version != "test" || len(info.Checksum) != 64 || info.PID != os.Getpid() || info.Hostname != host || info.OS == "" {
		t.Errorf("Info = %+v", info)
	}
}

// One agent per dir: a second one on the same dir fails at once.
func TestOneAgentPerDir(t *testing.T) {
	dir := serve(t)
	err := agent.Serve(context.Background(), agent.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second agent on %s: %v, want a lock error", dir, err)
	}
}

// A spec without a log path logs to the agent's own log of the service, which ServiceLogs
// reads, also once the instance is gone; a handle of another node names nothing.
func TestServiceLogs(t *testing.T) {
	ctx := context.Background()
	c := client(t, serve(t))
	tg := c.Target("process")
	spec := helperSpec(t, targettest.Behaviour{Kind: targettest.WriteOutput, MB: 1})
	spec.LogPath = ""
	h, err := tg.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if h.Node != "h1" || h.Target != "process" {
		t.Errorf("handle %s: want node h1, target process", h)
	}
	if _, err := tg.Wait(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := tg.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	rc, err := c.ServiceLogs(ctx, "test", "svc", target.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1023} {
		if !strings.Contains(string(out), targettest.OutputLine(i)) {
			t.Errorf("service log lacks %q:\n%s", targettest.OutputLine(i), out)
		}
	}
	other := h
	other.Node = "h2"
	if _, err := tg.Inspect(ctx, other); !errors.Is(err, target.ErrNotFound) {
		t.Errorf("Inspect of a handle of node h2: %v, want ErrNotFound", err)
	}
	if _, err := c.ServiceLogs(ctx, "test", "../etc", target.LogOptions{}); err == nil {
		t.Error("ServiceLogs of service ../etc: no error")
	}
}

// An agent that ends leaves its services running; the next agent on the same dir adopts them.
func TestRestartedAgentAdopts(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "agent")
	stop := serveOn(t, dir)
	h, err := client(t, dir).Target("process").Start(ctx, helperSpec(t, targettest.Behaviour{Kind: targettest.RunUntilTerm}))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	serveOn(t, dir)
	tg := client(t, dir).Target("process")
	st, err := tg.Inspect(ctx, h)
	if err != nil || !st.Running {
		t.Fatalf("Inspect through the next agent: %+v, %v; want running", st, err)
	}
	if err := tg.Stop(ctx, h, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The next agent did not start it: the exit status of an adopted process is not known.
	if _, err := tg.Wait(ctx, h); err != nil {
		t.Errorf("Wait: %v", err)
	}
	if st, err := tg.Inspect(ctx, h); err != nil || st.Running {
		t.Errorf("Inspect after Stop: %+v, %v; want not running", st, err)
	}
}

// Put writes a file whole, with its mode, or not at all.
func TestPut(t *testing.T) {
	c := client(t, serve(t))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "app.bin")
	body := strings.Repeat("harness ", 100_000)
	sum := sha256.Sum256([]byte(body))
	res, err := c.Put(ctx, path, 0o750, strings.NewReader(body), hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	want := agent.PutResult{Path: path, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Put (-want +got):\n%s", diff)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != body {
		t.Fatalf("the file: %d bytes, %v; want the body", len(got), err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o750 {
		t.Errorf("mode %v, want 0750", st.Mode())
	}

	// A body of another checksum: refused, the old file stays, no temporary file is left.
	_, err = c.Put(ctx, path, 0o644, strings.NewReader("other"), hex.EncodeToString(sum[:]))
	if !errors.Is(err, target.ErrInvalidSpec) || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("Put with a wrong checksum: %v, want ErrInvalidSpec naming the sha256", err)
	}
	if got, _ := os.ReadFile(path); string(got) != body {
		t.Error("a refused Put changed the file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("files left beside it: %v", entries)
	}
	if _, err := c.Put(ctx, "relative/x", 0o644, strings.NewReader("x"), ""); !errors.Is(err, target.ErrInvalidSpec) {
		t.Errorf("Put to a relative path: %v, want ErrInvalidSpec", err)
	}
}

// networker is a target with networks, for the network operations over the wire.
type networker struct {
	*targettest.Fake
	mu      sync.Mutex
	removed []string
}

func (n *networker) EnsureNetwork(_ context.Context, nw target.Network) (target.Network, error) {
	if !nw.Subnet.IsValid() {
		nw.Subnet = netip.MustParsePrefix("10.77.0.0/24")
	}
	nw.Gateway = nw.Subnet.Addr().Next()
	return nw, nil
}

func (n *networker) RemoveStack(_ context.Context, stack string, volumes bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removed = append(n.removed, fmt.Sprintf("%s volumes=%v", stack, volumes))
	return nil
}

// The network operations of a node's container target work over the wire; a target without
// networks says so with ErrUnsupported.
func TestNetworksOverTheWire(t *testing.T) {
	nw := &networker{Fake: targettest.NewFake()}
	srv := httptest.NewServer(agent.NewHandler(map[string]target.Target{"docker": nw, "process": targettest.NewFake()}, t.TempDir(), "test", slog.New(slog.DiscardHandler)))
	defer srv.Close()
	c := agent.NewClient("h1", agent.ClientOptions{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}})
	defer c.Close()
	ctx := context.Background()
	got, err := c.Target("docker").(target.Networker).EnsureNetwork(ctx, target.Network{Name: "harness-s", Stack: "s"})
	if err != nil {
		t.Fatal(err)
	}
	want := target.Network{Name: "harness-s", Stack: "s", Subnet: netip.MustParsePrefix("10.77.0.0/24"), Gateway: netip.MustParseAddr("10.77.0.1")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("EnsureNetwork (-want +got):\n%s", diff)
	}
	if err := c.Target("docker").(target.Networker).RemoveStack(ctx, "s", true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s volumes=true"}, nw.removed); diff != "" {
		t.Errorf("RemoveStack calls (-want +got):\n%s", diff)
	}
	if err := c.Target("process").(target.Networker).RemoveStack(ctx, "s", false); !errors.Is(err, target.ErrUnsupported) {
		t.Errorf("RemoveStack on the process target: %v, want ErrUnsupported", err)
	}
}
