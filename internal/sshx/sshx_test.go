package sshx

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a test's user environment: HOME, no ssh-agent, a known_hosts file.
type env struct {
	home       string
	knownHosts string
}

// isolate gives the test a HOME of its own and no ssh-agent.
func isolate(t *testing.T) env {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	return env{home: home, knownHosts: filepath.Join(home, ".ssh", "known_hosts")}
}

// ready isolates the test, trusts srv's host key and authorizes a key in ~/.ssh/id_ed25519.
func ready(t *testing.T, servers ...*testServer) env {
	t.Helper()
	e := isolate(t)
	pub := writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), "")
	for _, srv := range servers {
		srv.authorize(pub)
		if err := Trust(e.knownHosts, srv.hostport(), srv.hostKey.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func newPool(t *testing.T, opts Options) *Pool {
	t.Helper()
	p := NewPool(opts)
	t.Cleanup(func() { p.Close() })
	return p
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestUnknownHostThenTrust(t *testing.T) {
	srv := newTestServer(t)
	e := isolate(t)
	srv.authorize(writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), ""))
	ctx := ctxTimeout(t, 10*time.Second)

	_, err := newPool(t, Options{}).Get(ctx, srv.addr()) // the default ~/.ssh/known_hosts does not exist
	var hkErr *HostKeyError
	if !errors.As(err, &hkErr) || !errors.Is(err, ErrUnknownHost) || errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("Get = %v, want a *HostKeyError wrapping ErrUnknownHost", err)
	}
	fp := ssh.FingerprintSHA256(srv.hostKey.PublicKey())
	want := &HostKeyError{Node: "a", Host: "[127.0.0.1]:" + itoa(srv.addr().Port), Key: srv.hostKey.PublicKey(),
		Fingerprint: fp, File: e.knownHosts}
	if diff := cmp.Diff(want, hkErr, cmp.Comparer(sameKey)); diff != "" {
		t.Errorf("HostKeyError (-want +got):\n%s", diff)
	}
	for _, s := range []string{"node a (alice@127.0.0.1:", want.Host, fp, "harness hosts trust a"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}

	key, err := ScanHostKey(ctx, srv.hostport(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !sameKey(key, srv.hostKey.PublicKey()) {
		t.Fatalf("ScanHostKey = %s, want %s", ssh.FingerprintSHA256(key), fp)
	}
	for range 2 { // idempotent
		if err := Trust("~/.ssh/known_hosts", srv.hostport(), key); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(e.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Errorf("known_hosts has %d lines, want 1:\n%s", n, data)
	}
	for path, mode := range map[string]os.FileMode{e.knownHosts: 0o600, filepath.Dir(e.knownHosts): 0o700 | os.ModeDir} {
		if st, err := os.Stat(path); err != nil || st.Mode() != mode {
			t.Errorf("mode of %s = %v (%v), want %v", path, st.Mode(), err, mode)
		}
	}

	c, err := newPool(t, Options{}).Get(ctx, srv.addr())
	if err != nil {
		t.Fatalf("Get after Trust: %v", err)
	}
	res, err := c.Run(ctx, "echo trusted", nil)
	if err != nil || string(res.Stdout) != "trusted\n" {
		t.Errorf("Run = %q, %v", res.Stdout, err)
	}
}

func TestChangedHostKey(t *testing.T) {
	srv := newTestServer(t)
	e := ready(t)
	if err := Trust(e.knownHosts, srv.hostport(), newSigner(t).PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err := newPool(t, Options{KnownHosts: e.knownHosts}).Get(ctxTimeout(t, 10*time.Second), srv.addr())
	var hkErr *HostKeyError
	if !errors.As(err, &hkErr) || !hkErr.Changed || !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("Get = %v, want a *HostKeyError wrapping ErrHostKeyChanged", err)
	}
	for _, s := range []string{ssh.FingerprintSHA256(srv.hostKey.PublicKey()), "attack"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	// Trust does not replace a key.
	if err := Trust(e.knownHosts, srv.hostport(), srv.hostKey.PublicKey()); !errors.Is(err, ErrHostKeyChanged) {
		t.Errorf("Trust of a changed key = %v, want ErrHostKeyChanged", err)
	}
}

func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	// The server has an RSA key too; known_hosts knows only the Ed25519 one. Without the
	// algorithms of the known entries, the server might offer RSA and look changed.
	srv := newTestServer(t)
	rsaKey := newRSASigner(t)
	srv.cfg.AddHostKey(rsaKey)
	ready(t, srv)
	c, err := newPool(t, Options{}).Get(ctxTimeout(t, 10*time.Second), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestAuthOrder(t *testing.T) {
	srv := newTestServer(t)
	e := isolate(t)
	if err := Trust(e.knownHosts, srv.hostport(), srv.hostKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	keyFile := writeKey(t, filepath.Join(e.home, "keys", "node"), "")
	ed := writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), "")
	ec := writeKey(t, filepath.Join(e.home, ".ssh", "id_ecdsa"), "") // an ed25519 key under that name: only the order counts
	agentKey := startAgent(t)
	srv.authorize(ec) // the last one: all are offered

	addr := srv.addr()
	addr.KeyFile = "~/keys/node"
	if _, err := newPool(t, Options{}).Get(ctxTimeout(t, 10*time.Second), addr); err != nil {
		t.Fatal(err)
	}
	want := []string{fp(keyFile), fp(agentKey), fp(ed), fp(ec)}
	if diff := cmp.Diff(want, srv.offeredKeys()); diff != "" {
		t.Errorf("keys offered (-want +got):\n%s", diff)
	}
}

func TestAuthErrors(t *testing.T) {
	srv := newTestServer(t)
	e := isolate(t)
	if err := Trust(e.knownHosts, srv.hostport(), srv.hostKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 10*time.Second)
	writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), "") // not authorized

	_, err := newPool(t, Options{}).Get(ctx, srv.addr())
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Get with a wrong key = %v, want ErrAuth", err)
	}
	for _, s := range []string{"node a (alice@" + srv.hostport() + ")", "unable to authenticate", filepath.Join(e.home, ".ssh", "id_ed25519")} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}

	// A passphrase-protected key file without an agent: named, and no connection made.
	accepts, _ := srv.counts()
	addr := srv.addr()
	addr.KeyFile = filepath.Join(e.home, "locked")
	writeKey(t, addr.KeyFile, "secret")
	_, err = newPool(t, Options{}).Get(ctx, addr)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), addr.KeyFile) || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("Get with an encrypted key file = %v, want ErrAuth naming %s", err, addr.KeyFile)
	}
	if got, _ := srv.counts(); got != accepts {
		t.Errorf("connections = %d, want %d: the key problem is known before dialing", got, accepts)
	}

	// No key at all.
	os.Remove(filepath.Join(e.home, ".ssh", "id_ed25519"))
	_, err = newPool(t, Options{}).Get(ctx, srv.addr())
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "no key") {
		t.Errorf("Get without keys = %v, want ErrAuth (no key)", err)
	}
}

func TestEncryptedKeyFileAndAgent(t *testing.T) {
	// An encrypted key file is used through the agent when the agent holds it, and is an
	// error naming the file when it does not.
	srv := newTestServer(t)
	e := isolate(t)
	if err := Trust(e.knownHosts, srv.hostport(), srv.hostKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	priv := newKey(t)
	agentKey := startAgentWith(t, priv)
	srv.authorize(agentKey)
	ctx := ctxTimeout(t, 10*time.Second)

	addr := srv.addr()
	addr.KeyFile = filepath.Join(e.home, "held")
	writeKeyOf(t, addr.KeyFile, priv, "secret")
	c, err := newPool(t, Options{}).Get(ctx, addr)
	if err != nil {
		t.Fatalf("Get with an encrypted key file held by the agent: %v", err)
	}
	c.Close()

	addr.KeyFile = filepath.Join(e.home, "locked")
	writeKey(t, addr.KeyFile, "secret")
	_, err = newPool(t, Options{}).Get(ctx, addr)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), addr.KeyFile+" is protected by a passphrase and ssh-agent does not hold it") {
		t.Errorf("Get = %v, want ErrAuth naming %s: ssh-agent does not hold it", err, addr.KeyFile)
	}
}

func TestConcurrentGetsShareOneConnection(t *testing.T) {
	srv := newTestServer(t)
	srv.handshakeDelay = 100 * time.Millisecond
	ready(t, srv)
	p := newPool(t, Options{})
	ctx := ctxTimeout(t, 10*time.Second)
	conns := make([]*Conn, 20)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := p.Get(ctx, srv.addr())
			if err != nil {
				t.Error(err)
			}
			conns[i] = c
		})
	}
	wg.Wait()
	for _, c := range conns {
		if c != conns[0] {
			t.Fatal("Gets returned different connections")
		}
	}
	// Sessions multiplexed on it.
	for range 5 {
		wg.Go(func() {
			if _, err := conns[0].Run(ctx, "echo x", nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	accepts, handshakes := srv.counts()
	if diff := cmp.Diff([2]int{1, 1}, [2]int{accepts, handshakes}); diff != "" {
		t.Errorf("[connections, handshakes] (-want +got):\n%s", diff)
	}
}

func TestHandshakeBound(t *testing.T) {
	for _, tc := range []struct {
		max, want int
	}{{0, 8}, {3, 3}} {
		g := &gauge{}
		servers := make([]*testServer, 12)
		for i := range servers {
			servers[i] = newTestServer(t)
			servers[i].gauge = g
			servers[i].handshakeDelay = 100 * time.Millisecond
		}
		ready(t, servers...)
		p := newPool(t, Options{MaxHandshakes: tc.max})
		ctx := ctxTimeout(t, 20*time.Second)
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Go(func() {
				if _, err := p.Get(ctx, srv.addr()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := g.most(); got > tc.want || got < 1 {
			t.Errorf("MaxHandshakes %d: %d handshakes at once, want 1..%d", tc.max, got, tc.want)
		}
	}
}

func TestRun(t *testing.T) {
	srv := newTestServer(t)
	ready(t, srv)
	ctx := ctxTimeout(t, 10*time.Second)
	c, err := newPool(t, Options{}).Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd, stdin string
		want       Result
	}{
		{cmd: "echo hello world", want: Result{Stdout: []byte("hello world\n")}},
		{cmd: "exit 3", want: Result{ExitCode: 3}},
		{cmd: "stderr oops", want: Result{Stderr: []byte("oops\n"), ExitCode: 1}},
		{cmd: "cat", stdin: "in and out", want: Result{Stdout: []byte("in and out")}},
		{cmd: "nosuch", want: Result{Stderr: []byte("nosuch: command not found\n"), ExitCode: 127}},
	} {
		var stdin *strings.Reader
		if tc.stdin != "" {
			stdin = strings.NewReader(tc.stdin)
		}
		got, err := c.Run(ctx, tc.cmd, readerOrNil(stdin))
		if err != nil {
			t.Errorf("Run(%q): %v", tc.cmd, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
			t.Errorf("Run(%q) (-want +got):\n%s", tc.cmd, diff)
		}
	}

	// Cancel ends a command that does not end by itself; the connection stays.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.Run(cctx, "sleep", nil); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "node a") {
		t.Errorf("Run(sleep) = %v, want context.DeadlineExceeded naming the node", err)
	}
	if res, err := c.Run(ctx, "echo still", nil); err != nil || string(res.Stdout) != "still\n" {
		t.Errorf("Run after cancel = %q, %v", res.Stdout, err)
	}
}

func TestStart(t *testing.T) {
	srv := newTestServer(t)
	ready(t, srv)
	ctx := ctxTimeout(t, 10*time.Second)
	c, err := newPool(t, Options{}).Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Start(ctx, "cat")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		s.Stdin.Write([]byte("stream"))
		s.Stdin.Close()
	}()
	out, err := readAll(s.Stdout)
	if err != nil || out != "stream" {
		t.Errorf("stdout = %q, %v", out, err)
	}
	if code, err := s.Wait(); code != 0 || err != nil {
		t.Errorf("Wait = %d, %v", code, err)
	}

	// ctx bounds the session.
	sctx, cancel := context.WithCancel(ctx)
	s, err = c.Start(sctx, "sleep")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel = %v, want context.Canceled", err)
	}
}

func TestDialUnix(t *testing.T) {
	srv := newTestServer(t)
	ready(t, srv)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() { // an echo server
		for {
			uc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer uc.Close()
				buf := make([]byte, 64)
				n, _ := uc.Read(buf)
				uc.Write(buf[:n])
			})
		}
	})
	ctx := ctxTimeout(t, 10*time.Second)
	c, err := newPool(t, Options{}).Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := c.DialUnix(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := nc.Read(buf); err != nil || string(buf) != "ping" {
		t.Errorf("read %q, %v; want ping", buf, err)
	}
	if _, err := c.DialUnix(ctx, sock+".missing"); err == nil || !strings.Contains(err.Error(), "node a") {
		t.Errorf("DialUnix to a missing socket = %v, want an error naming the node", err)
	}
}

func TestSFTP(t *testing.T) {
	srv := newTestServer(t)
	ready(t, srv)
	ctx := ctxTimeout(t, 10*time.Second)
	p := newPool(t, Options{})
	c, err := p.Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.SFTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "harness")
	f, err := sc.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("binary")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, err = sc.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(f)
	f.Close()
	if err != nil || got != "binary" {
		t.Errorf("read back %q, %v", got, err)
	}
	if again, err := c.SFTP(ctx); err != nil || again != sc {
		t.Errorf("second SFTP = %p, %v; want the same client %p", again, err, sc)
	}

	// After a reconnect, a new client on the new connection.
	c.Close()
	c2, err := p.Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	sc2, err := c2.SFTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sc2 == sc {
		t.Error("SFTP after reconnect returned the old client")
	}
	if _, err := sc2.Stat(path); err != nil {
		t.Error(err)
	}
	if _, err := c.SFTP(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("SFTP on a closed connection = %v, want ErrClosed", err)
	}
}

func TestKeepaliveDetectsDeadPeer(t *testing.T) {
	srv := newTestServer(t)
	ready(t, srv)
	ctx := ctxTimeout(t, 10*time.Second)
	p := newPool(t, Options{KeepaliveInterval: 20 * time.Millisecond, KeepaliveMax: 3})
	c, err := p.Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	for srv.keepalivesSeen() < 3 { // answered keepalives keep it up
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection ended while the peer answered: %v", err)
	}
	srv.stall()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("a peer that stopped answering was not detected")
	}
	if err := c.Err(); !errors.Is(err, ErrKeepalive) {
		t.Errorf("Err = %v, want ErrKeepalive", err)
	}
	if _, err := c.Run(ctx, "echo x", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run on the dead connection = %v, want ErrClosed", err)
	}
	c2, err := p.Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c {
		t.Fatal("Get returned the dead connection")
	}
	if res, err := c2.Run(ctx, "echo back", nil); err != nil || string(res.Stdout) != "back\n" {
		t.Errorf("Run after reconnect = %q, %v", res.Stdout, err)
	}
	if accepts, _ := srv.counts(); accepts != 2 {
		t.Errorf("connections = %d, want 2", accepts)
	}
}

func TestGetWaitIsBoundedByCtx(t *testing.T) {
	srv := newTestServer(t)
	srv.handshakeDelay = 10 * time.Second // released by the server's cleanup
	ready(t, srv)
	p := newPool(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, srv.addr()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get = %v, want context.DeadlineExceeded", err)
	}
	p.Close() // aborts the dial
	if _, err := p.Get(t.Context(), srv.addr()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get on a closed pool = %v, want ErrClosed", err)
	}
}

// fakeClock is the clock of the backoff tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestBackoff(t *testing.T) {
	isolate(t)
	// A server that closes every connection at once, counting them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	dials := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			dials++
			mu.Unlock()
			nc.Close()
		}
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return dials
	}
	e := isolate(t)
	writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), "")
	clock := &fakeClock{now: time.Unix(1000, 0)}
	p := newPool(t, Options{})
	p.now = clock.Now
	p.jitter = func(time.Duration) time.Duration { return 0 }
	addr := Addr{Name: "a", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "alice"}
	ctx := ctxTimeout(t, 10*time.Second)

	_, first := p.Get(ctx, addr)
	if first == nil || errors.Is(first, ErrBackoff) {
		t.Fatalf("first Get = %v, want a dial error", first)
	}
	steps := []struct {
		advance time.Duration
		dial    bool // whether the Get dials (else it fails fast)
	}{
		{0, false}, {249 * time.Millisecond, false}, {time.Millisecond, true}, // 250ms after the 1st failure
		{499 * time.Millisecond, false}, {time.Millisecond, true}, // 500ms after the 2nd
		{999 * time.Millisecond, false}, {time.Millisecond, true}, // 1s after the 3rd
	}
	wantDials := 1
	for i, s := range steps {
		clock.Advance(s.advance)
		_, err := p.Get(ctx, addr)
		if s.dial {
			wantDials++
		}
		if got := count(); got != wantDials {
			t.Fatalf("step %d: %d dials, want %d", i, got, wantDials)
		}
		if err == nil {
			t.Fatalf("step %d: Get succeeded", i)
		}
		if errors.Is(err, ErrBackoff) == s.dial {
			t.Errorf("step %d: Get = %v; backing off: %v, want %v", i, err, errors.Is(err, ErrBackoff), !s.dial)
		}
		if !strings.Contains(err.Error(), "node a (alice@") {
			t.Errorf("step %d: error %q does not name the node", i, err)
		}
	}
}

func TestBackoffKeepsTheCause(t *testing.T) {
	srv := newTestServer(t)
	e := isolate(t)
	srv.authorize(writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), ""))
	p := newPool(t, Options{Backoff: time.Hour})
	ctx := ctxTimeout(t, 10*time.Second)
	for i, wantBackoff := range []bool{false, true} {
		_, err := p.Get(ctx, srv.addr())
		var hkErr *HostKeyError
		if !errors.As(err, &hkErr) || !errors.Is(err, ErrUnknownHost) || errors.Is(err, ErrBackoff) != wantBackoff {
			t.Errorf("Get %d = %v, want ErrUnknownHost (backing off: %v)", i, err, wantBackoff)
		}
	}
	if accepts, _ := srv.counts(); accepts != 1 {
		t.Errorf("connections = %d, want 1", accepts)
	}
	// Reset ends the backoff: the next Get dials again.
	p.Reset(srv.addr())
	if _, err := p.Get(ctx, srv.addr()); !errors.Is(err, ErrUnknownHost) || errors.Is(err, ErrBackoff) {
		t.Errorf("Get after Reset = %v, want a new dial's ErrUnknownHost", err)
	}
	if accepts, _ := srv.counts(); accepts != 2 {
		t.Errorf("connections after Reset = %d, want 2", accepts)
	}
}

func TestBackoffDelays(t *testing.T) {
	p := NewPool(Options{})
	defer p.Close()
	p.jitter = func(time.Duration) time.Duration { return 0 }
	var got []time.Duration
	for _, n := range []int{1, 2, 3, 7, 8, 100} {
		got = append(got, p.backoff(n))
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	p2 := NewPool(Options{}) // the real jitter: up to half again
	defer p2.Close()
	for range 100 {
		if d := p2.backoff(2); d < 500*time.Millisecond || d > 750*time.Millisecond {
			t.Fatalf("backoff(2) = %s, want 500ms..750ms", d)
		}
	}
}

func TestAddrDefaults(t *testing.T) {
	a, err := Addr{Host: "10.1.2.3", User: "root"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Addr{Name: "10.1.2.3", Host: "10.1.2.3", Port: 22, User: "root"}, a); diff != "" {
		t.Errorf("withDefaults (-want +got):\n%s", diff)
	}
	if got, want := a.label(), "node 10.1.2.3 (root@10.1.2.3:22)"; got != want {
		t.Errorf("label = %q, want %q", got, want)
	}
	if got := normalizeHost("10.1.2.3:2222"); got != "[10.1.2.3]:2222" {
		t.Errorf("normalizeHost = %q", got)
	}
}

// startAgent serves an ssh-agent holding a new key on a socket named by SSH_AUTH_SOCK.
func startAgent(t *testing.T) ssh.PublicKey {
	t.Helper()
	return startAgentWith(t, newKey(t))
}

// startAgentWith serves an ssh-agent holding priv on a socket named by SSH_AUTH_SOCK.
func startAgentWith(t *testing.T, priv ed25519.PrivateKey) ssh.PublicKey {
	t.Helper()
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "a.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	t.Setenv("SSH_AUTH_SOCK", sock)
	return pub
}

func newRSASigner(t *testing.T) ssh.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sameKey(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && string(a.Marshal()) == string(b.Marshal())
}

func fp(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

func itoa(n int) string { return strconv.Itoa(n) }

// readerOrNil turns a nil *strings.Reader into a nil io.Reader.
func readerOrNil(r *strings.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return r
}

func readAll(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestPing(t *testing.T) {
	srv := newTestServer(t)
	ready(t, srv)
	ctx := ctxTimeout(t, 10*time.Second)
	c, err := newPool(t, Options{KeepaliveInterval: -1}).Get(ctx, srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping of a peer that answers: %v", err)
	}
	srv.stall()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.Ping(short); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "node a") {
		t.Errorf("Ping of a stalled peer = %v, want a deadline naming node a", err)
	}
}

// A dial that began before the host key was trusted, and failed on it after the Reset that
// followed the Trust, is forgotten: its caller dials again and nothing backs off.
func TestResetDuringDial(t *testing.T) {
	srv := newTestServer(t)
	e := isolate(t)
	srv.authorize(writeKey(t, filepath.Join(e.home, ".ssh", "id_ed25519"), ""))
	p := newPool(t, Options{Backoff: time.Hour})
	ctx := ctxTimeout(t, 10*time.Second)
	dialing, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	var d net.Dialer
	p.dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		first.Do(func() { // the first dial waits: known_hosts is read already
			close(dialing)
			<-release
		})
		return d.DialContext(ctx, network, addr)
	}
	got := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx, srv.addr())
		got <- err
	}()
	<-dialing
	if err := Trust(e.knownHosts, srv.hostport(), srv.hostKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	p.Reset(srv.addr())
	close(release)
	if err := <-got; err != nil {
		t.Errorf("Get whose dial began before the trust = %v, want a connection", err)
	}
	if _, err := p.Get(ctx, srv.addr()); err != nil {
		t.Errorf("Get after = %v, want the connection", err)
	}
	if accepts, _ := srv.counts(); accepts != 2 {
		t.Errorf("connections = %d, want 2 (the stale dial, and the one after it)", accepts)
	}
}
