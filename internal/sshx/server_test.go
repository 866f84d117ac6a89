package sshx

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// gauge counts the handshakes in progress, across servers, and remembers the most.
type gauge struct {
	mu       sync.Mutex
	cur, max int
}

func (g *gauge) add(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur += n
	g.max = max(g.max, g.cur)
}

func (g *gauge) most() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}

// testServer is an in-process SSH server on 127.0.0.1 with a fake command set (echo ARGS,
// exit N, cat, stderr TEXT, sleep), the sftp subsystem, direct-streamlocal channels, and
// keepalive answers; it counts connections and handshakes, can slow handshakes, and can
// stop answering on the connections it has (a dead peer).
type testServer struct {
	t       *testing.T
	ln      net.Listener
	hostKey ssh.Signer
	cfg     *ssh.ServerConfig
	done    chan struct{}
	wg      sync.WaitGroup

	mu             sync.Mutex
	authorized     map[string]bool
	offered        []string // the fingerprints of the keys offered, in order
	accepts        int
	handshakes     int
	keepalives     int
	handshakeDelay time.Duration
	gauge          *gauge
	conns          []*gateConn
	ended          map[string]bool // the connections whose handshake the gauge no longer counts
}

// endHandshake takes the connection from remote off the gauge, once.
func (s *testServer) endHandshake(remote string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended[remote] {
		s.ended[remote] = true
		s.gauge.add(-1)
	}
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, hostKey: newSigner(t), done: make(chan struct{}),
		authorized: map[string]bool{}, gauge: &gauge{}, ended: map[string]bool{}}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			fp := ssh.FingerprintSHA256(key)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.offered = append(s.offered, fp)
			if s.authorized[fp] {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	// A handshake ends, for the gauge, when authentication succeeds: before the client
	// can know it.
	s.cfg.AuthLogCallback = func(cm ssh.ConnMetadata, _ string, err error) {
		if err == nil {
			s.endHandshake(cm.RemoteAddr().String())
		}
	}
	s.cfg.AddHostKey(s.hostKey)
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) close() {
	close(s.done)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// addr returns the server's address as a node "a" of user alice.
func (s *testServer) addr() Addr {
	port := s.ln.Addr().(*net.TCPAddr).Port
	return Addr{Name: "a", Host: "127.0.0.1", Port: port, User: "alice"}
}

func (s *testServer) hostport() string { return s.addr().hostport() }

func (s *testServer) authorize(k ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized[ssh.FingerprintSHA256(k)] = true
}

// counts returns the TCP connections accepted and the handshakes begun.
func (s *testServer) counts() (accepts, handshakes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts, s.handshakes
}

func (s *testServer) keepalivesSeen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keepalives
}

func (s *testServer) offeredKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.offered...)
}

// stall makes the connections the server has stop reading: a dead peer.
func (s *testServer) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.stall()
	}
}

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &gateConn{Conn: nc, done: s.done}
		s.mu.Lock()
		s.accepts++
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(c)
		}()
	}
}

func (s *testServer) serve(nc net.Conn) {
	s.mu.Lock()
	s.handshakes++
	delay, g := s.handshakeDelay, s.gauge
	s.mu.Unlock()
	g.add(1)
	select {
	case <-time.After(delay):
	case <-s.done:
	}
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	s.endHandshake(nc.RemoteAddr().String())
	if err != nil {
		return
	}
	defer sc.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for req := range reqs {
			if req.Type == "keepalive@openssh.com" {
				s.mu.Lock()
				s.keepalives++
				s.mu.Unlock()
			}
			if req.WantReply {
				req.Reply(false, nil) // as OpenSSH does
			}
		}
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			s.goServe(func() { s.session(nch) })
		case "direct-streamlocal@openssh.com":
			s.goServe(func() { s.streamlocal(nch) })
		default:
			nch.Reject(ssh.UnknownChannelType, "no "+nch.ChannelType())
		}
	}
}

func (s *testServer) goServe(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *testServer) session(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	closed := make(chan struct{}) // the channel's requests have ended: it is closed
	started := false
	for req := range reqs {
		switch {
		case req.Type == "exec" && !started:
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			started = true
			s.goServe(func() {
				code := s.exec(ch, p.Command, closed)
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
				ch.Close()
			})
		case req.Type == "subsystem" && !started:
			var p struct{ Name string }
			if ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			started = true
			s.goServe(func() {
				srv, err := sftp.NewServer(ch)
				if err == nil {
					srv.Serve()
					srv.Close()
				}
				ch.Close()
			})
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	close(closed)
}

// exec runs the fake command line and returns its exit code.
func (s *testServer) exec(ch ssh.Channel, cmd string, closed <-chan struct{}) int {
	name, arg, _ := strings.Cut(cmd, " ")
	switch name {
	case "echo":
		fmt.Fprintln(ch, arg)
		return 0
	case "stderr":
		fmt.Fprintln(ch.Stderr(), arg)
		return 1
	case "exit":
		n, _ := strconv.Atoi(arg)
		return n
	case "cat":
		io.Copy(ch, ch)
		return 0
	case "sleep":
		select {
		case <-closed:
		case <-s.done:
		}
		return 0
	default:
		fmt.Fprintf(ch.Stderr(), "%s: command not found\n", name)
		return 127
	}
}

func (s *testServer) streamlocal(nch ssh.NewChannel) {
	var p struct {
		SocketPath string
		Reserved0  string
		Reserved1  uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	uc, err := net.Dial("unix", p.SocketPath)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	defer uc.Close()
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	copied := make(chan struct{})
	go func() {
		io.Copy(uc, ch)
		uc.(*net.UnixConn).CloseWrite()
		close(copied)
	}()
	io.Copy(ch, uc)
	ch.CloseWrite()
	<-copied
}

// gateConn is a server connection that can stop reading, as a dead peer.
type gateConn struct {
	net.Conn
	done    <-chan struct{} // the server's end releases a stalled reader
	mu      sync.Mutex
	stalled bool
}

func (c *gateConn) stall() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stalled = true
}

func (c *gateConn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

func (c *gateConn) Read(b []byte) (int, error) {
	if c.isStalled() {
		<-c.done
		return 0, io.EOF
	}
	n, err := c.Conn.Read(b)
	if c.isStalled() { // what came is never seen
		<-c.done
		return 0, io.EOF
	}
	return n, err
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKey writes a new private key to path (encrypted with passphrase unless it is "") and
// returns its public key.
func writeKey(t *testing.T, path, passphrase string) ssh.PublicKey {
	t.Helper()
	return writeKeyOf(t, path, newKey(t), passphrase)
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// writeKeyOf writes priv to path (encrypted with passphrase unless it is "") and returns
// its public key.
func writeKeyOf(t *testing.T, path string, priv ed25519.PrivateKey, passphrase string) ssh.PublicKey {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
