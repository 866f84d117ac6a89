package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Conn is one SSH connection to a node, shared by all the callers of Pool.Get for it; each
// operation opens a channel of its own on it. It is safe for concurrent use. Once it has
// ended (Done is closed), its operations fail with ErrClosed and Pool.Get dials anew.
type Conn struct {
	addr   Addr
	client *ssh.Client
	log    *slog.Logger
	done   chan struct{} // closed when the connection has ended
	reads  *readClock    // when the connection last read from the peer; nil: not known

	mu      sync.Mutex
	closing bool           // no goroutine may start: Close waits for them
	err     error          // why the connection ended
	sftp    *sftpCall      // the SFTP client, made or being made; nil for none
	wg      sync.WaitGroup // the goroutines of the connection
}

// sftpCall is the making of the connection's SFTP client; done is closed when it is made.
type sftpCall struct {
	done   chan struct{}
	client *sftp.Client
	err    error
}

// newConn starts the goroutines of a connection: the one that waits for its end, and the
// keepalives (unless interval is negative).
func newConn(a Addr, client *ssh.Client, interval time.Duration, maxMissed int, log *slog.Logger) *Conn {
	c := &Conn{addr: a, client: client, log: log, done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := client.Wait()
		c.mu.Lock()
		c.closing = true
		if c.err == nil {
			c.err = err
			if c.err == nil {
				c.err = io.EOF
			}
		}
		c.mu.Unlock()
		close(c.done)
	}()
	if interval > 0 {
		c.wg.Add(1)
		go c.keepalive(interval, maxMissed)
	}
	return c
}

// Addr returns the node's address, with the defaults filled in.
func (c *Conn) Addr() Addr { return c.addr }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (ErrClosed after Close, an error wrapping
// ErrKeepalive, or the transport's error); nil while it is up.
func (c *Conn) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Close closes the connection for all its users (Pool.Get dials a new one) and waits for
// its goroutines.
func (c *Conn) Close() error {
	c.closeWith(ErrClosed)
	c.wg.Wait()
	return nil
}

// closeWith closes the connection, recording why.
func (c *Conn) closeWith(why error) {
	c.mu.Lock()
	c.closing = true
	if c.err == nil {
		c.err = why
	}
	c.mu.Unlock()
	c.client.Close()
}

// goroutine runs f on a goroutine of the connection, unless it is closing.
func (c *Conn) goroutine(f func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		if errors.Is(c.err, ErrClosed) {
			return c.err
		}
		return fmt.Errorf("%w: %w", ErrClosed, c.err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return nil
}

// errorf formats an error of the connection, naming the node.
func (c *Conn) errorf(format string, args ...any) error {
	return fmt.Errorf(c.addr.label()+": "+format, args...)
}

// keepalive sends a keepalive@openssh.com request every interval and closes the connection
// when maxMissed intervals in a row end with the request unanswered. Any answer counts
// (OpenSSH answers "failure"). Only one request is outstanding at a time: x/crypto
// serializes global requests.
func (c *Conn) keepalive(interval time.Duration, maxMissed int) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-c.done:
			return
		case err := <-replies:
			pending = false
			if err != nil { // the transport is gone; the waiting goroutine records why
				return
			}
			missed = 0
		case <-t.C:
			if !pending {
				pending = true
				err := c.goroutine(func() {
					_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
					replies <- err
				})
				if err != nil {
					return
				}
				continue
			}
			missed++
			if missed >= maxMissed {
				why := fmt.Errorf("%w: %d in a row, %s apart", ErrKeepalive, missed, interval)
				c.log.Warn("ssh connection closed", "node", c.addr.Name, "addr", c.addr.String(), "reason", why)
				c.closeWith(why)
				return
			}
		}
	}
}

// Ping sends a keepalive@openssh.com request and waits for the answer, within ctx: a round
// trip to the node's sshd. Any answer counts; when none comes in time, anything read from the
// peer since the request counts too (the answer queues behind a transfer on a busy link).
func (c *Conn) Ping(ctx context.Context) error {
	sent := time.Now()
	_, err := await(ctx, c, func() (bool, error) {
		ok, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		return ok, err
	}, func(bool) {})
	if err != nil && ctx.Err() != nil && c.reads.after(sent) {
		// No answer in time, but the peer sent something since: its answer waits behind a
		// transfer on a busy link, and the link is alive.
		return nil
	}
	if err != nil {
		return c.errorf("ping: %w", err)
	}
	return nil
}

// await runs open on a goroutine of the connection and returns its result, or the cause of
// ctx when ctx ends first; a result that comes after that is given to discard. open blocks
// on the peer and takes no context: this bounds the caller's wait, and the connection's end
// (Close, or keepalives) bounds open.
func await[T any](ctx context.Context, c *Conn, open func() (T, error), discard func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, context.Cause(ctx)
	}
	ch := make(chan result, 1)
	var mu sync.Mutex
	abandoned := false
	err := c.goroutine(func() {
		v, err := open()
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if err == nil {
				discard(v)
			}
			return
		}
		ch <- result{v, err}
	})
	if err != nil {
		return zero, err
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case r := <-ch: // it came in the meantime
			if r.err == nil {
				discard(r.v)
			}
		default:
			abandoned = true
		}
		return zero, context.Cause(ctx)
	}
}

func (c *Conn) newSession(ctx context.Context) (*ssh.Session, error) {
	s, err := await(ctx, c, c.client.NewSession, func(s *ssh.Session) { s.Close() })
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return s, nil
}

// DialUnix connects to the unix socket at path on the node, through a
// direct-streamlocal@openssh.com channel. ctx bounds the dial only.
func (c *Conn) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	return c.DialContext(ctx, "unix", path)
}

// DialContext connects to address as the node sees it: network "unix" through a
// direct-streamlocal@openssh.com channel, "tcp" through a direct-tcpip channel (the node's
// sshd dials, so 127.0.0.1 is the node's loopback). ctx bounds the dial only.
func (c *Conn) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := await(ctx, c,
		func() (net.Conn, error) { return c.client.Dial(network, address) },
		func(nc net.Conn) { nc.Close() })
	if err != nil {
		return nil, c.errorf("dial %s %s: %w", network, address, err)
	}
	return nc, nil
}

// SFTP returns the connection's SFTP client, made on first use and shared by all callers;
// do not close it: it ends with the connection (and is made anew if it ends before).
// ctx bounds the wait for it.
func (c *Conn) SFTP(ctx context.Context) (*sftp.Client, error) {
	c.mu.Lock()
	call := c.sftp
	if call == nil {
		call = &sftpCall{done: make(chan struct{})}
		c.sftp = call
		c.mu.Unlock()
		err := c.goroutine(func() { c.makeSFTP(call) })
		if err != nil {
			c.mu.Lock()
			call.err = err
			c.sftp = nil
			close(call.done)
			c.mu.Unlock()
		}
	} else {
		c.mu.Unlock()
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, c.errorf("sftp: %w", context.Cause(ctx))
	}
	if call.err != nil {
		return nil, c.errorf("sftp: %w", call.err)
	}
	return call.client, nil
}

// makeSFTP makes the SFTP client of call; once made, it waits for the client's end to
// forget it.
func (c *Conn) makeSFTP(call *sftpCall) {
	cl, err := sftp.NewClient(c.client, sftp.UseConcurrentWrites(true))
	c.mu.Lock()
	call.client, call.err = cl, err
	if err != nil {
		c.sftp = nil // the next call tries again
	}
	close(call.done)
	c.mu.Unlock()
	if err != nil {
		return
	}
	cl.Wait() // ends with the connection, or when a caller closes the client
	c.mu.Lock()
	if c.sftp == call {
		c.sftp = nil
	}
	c.mu.Unlock()
}

// readClock is a network connection that records when it last read something.
type readClock struct {
	net.Conn
	last atomic.Int64 // UnixNano
}

func (r *readClock) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	if n > 0 {
		r.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// after reports whether something was read after t.
func (r *readClock) after(t time.Time) bool {
	return r != nil && r.last.Load() > t.UnixNano()
}
