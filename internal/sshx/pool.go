package sshx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure a Pool. The zero value of each field means its default.
type Options struct {
	// KnownHosts is the known_hosts file ("~" expanded); default ~/.ssh/known_hosts. It is
	// read at every dial, so that a key trusted since is used.
	KnownHosts string
	// MaxHandshakes bounds the dials in progress (TCP connect, key exchange and
	// authentication) across the pool; default 8, below sshd's MaxStartups (10:30:100).
	MaxHandshakes int
	// HandshakeTimeout bounds one dial, from the moment it has a handshake slot; default 30s.
	HandshakeTimeout time.Duration
	// KeepaliveInterval is the time between keepalives of a connection; default 15s,
	// negative disables them.
	KeepaliveInterval time.Duration
	// KeepaliveMax is how many keepalives in a row may go unanswered for an interval
	// before the connection is closed; default 3.
	KeepaliveMax int
	// Backoff is the wait after the first failed dial of a node; it doubles with each
	// further failure up to MaxBackoff; defaults 250ms and 30s.
	Backoff, MaxBackoff time.Duration
	// Logger receives the closing of connections by keepalive; default none.
	Logger *slog.Logger
}

// Pool holds one SSH connection per node (per distinct Addr, defaults filled in), dialed on
// first use and again after the connection ends. It is safe for concurrent use.
type Pool struct {
	opts       Options
	log        *slog.Logger
	handshakes chan struct{} // a token per dial in progress
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup // the dial goroutines

	// Test hooks: the clock of the backoff, and its jitter.
	now    func() time.Time
	jitter func(time.Duration) time.Duration
	dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	mu     sync.Mutex
	closed bool
	hosts  map[Addr]*host
}

// host is the pool's state of one node.
type host struct {
	conn     *Conn         // the last connection; may have ended
	dialing  chan struct{} // non-nil while a dial is in progress; closed when it ends
	failures int           // dials failed in a row
	lastErr  error         // of the last dial, when it failed
	retryAt  time.Time     // no dial before this time, after a failure
	resets   int           // Resets so far: a dial that began before the last one fails unrecorded
}

// NewPool returns an empty pool. Close it to close its connections.
func NewPool(opts Options) *Pool {
	if opts.KnownHosts == "" {
		opts.KnownHosts = "~/.ssh/known_hosts"
	}
	if opts.MaxHandshakes <= 0 {
		opts.MaxHandshakes = 8
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 30 * time.Second
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = 15 * time.Second
	}
	if opts.KeepaliveMax <= 0 {
		opts.KeepaliveMax = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var d net.Dialer
	return &Pool{
		opts:       opts,
		log:        log,
		handshakes: make(chan struct{}, opts.MaxHandshakes),
		ctx:        ctx,
		cancel:     cancel,
		now:        time.Now,
		jitter:     func(d time.Duration) time.Duration { return rand.N(d/2 + 1) },
		dialer:     d.DialContext,
		hosts:      make(map[Addr]*host),
	}
}

// Get returns the connection to addr, dialing it when there is none or it has ended.
// Concurrent callers share the connection, and a dial in progress. The dial belongs to the
// pool: ending ctx ends the wait of this caller, not the dial, which others may wait for.
//
// After a failed dial, the node is not dialed again before a backoff (Options.Backoff,
// doubling per failure, plus up to half of it as jitter): a Get in that window fails at once
// with an error that wraps ErrBackoff and the last dial error (so errors.Is(err, ErrAuth)
// and errors.As(err, **HostKeyError) still hold). Retrying is the caller's business.
func (p *Pool) Get(ctx context.Context, addr Addr) (*Conn, error) {
	a, err := addr.withDefaults()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	waited := false
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("%s: %w: pool closed", a.label(), ErrClosed)
		}
		h := p.hosts[a]
		if h == nil {
			h = &host{}
			p.hosts[a] = h
		}
		if h.conn != nil && h.conn.alive() {
			p.mu.Unlock()
			return h.conn, nil
		}
		if h.dialing == nil {
			if waited && h.lastErr != nil { // the dial this caller waited for failed
				err := h.lastErr
				p.mu.Unlock()
				return nil, fmt.Errorf("%s: %w", a.label(), err)
			}
			if wait := h.retryAt.Sub(p.now()); h.lastErr != nil && wait > 0 {
				err, n := h.lastErr, h.failures
				p.mu.Unlock()
				return nil, fmt.Errorf("%s: %w (%w: %d failed dials, next in %s)",
					a.label(), err, ErrBackoff, n, wait.Round(time.Millisecond))
			}
			h.dialing = make(chan struct{})
			p.wg.Add(1)
			go p.dial(a, h, h.resets)
		}
		dialing := h.dialing
		p.mu.Unlock()
		select {
		case <-dialing:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: connect: %w", a.label(), context.Cause(ctx))
		}
		waited = true
		p.mu.Lock()
	}
}

// Reset forgets the failed dials of addr, so that the next Get dials at once: after the cause
// was mended (a host key trusted, a key installed).
func (p *Pool) Reset(addr Addr) {
	a, err := addr.withDefaults()
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h := p.hosts[a]; h != nil {
		h.failures, h.lastErr, h.retryAt = 0, nil, time.Time{}
		h.resets++
	}
}

// dial connects to a and records the outcome in h. A failure is not recorded when Reset
// was called since the dial began (resets): it may come from the cause just mended (a
// known_hosts read before the key was trusted), and whoever waits for it dials again.
func (p *Pool) dial(a Addr, h *host, resets int) {
	defer p.wg.Done()
	client, reads, err := p.connect(a)
	var c *Conn
	if err == nil {
		c = newConn(a, client, p.opts.KeepaliveInterval, p.opts.KeepaliveMax, p.log)
		c.reads = reads
	}
	p.mu.Lock()
	switch {
	case err == nil:
		h.failures, h.lastErr = 0, nil
		h.conn = c
	case h.resets == resets: // else the dial began before a Reset: its failure is forgotten
		h.failures++
		h.lastErr = err
		h.retryAt = p.now().Add(p.backoff(h.failures))
	}
	closed := p.closed
	close(h.dialing)
	h.dialing = nil
	p.mu.Unlock()
	if closed && c != nil { // Close ran during the dial
		c.Close()
	}
}

// backoff returns the wait after the nth failed dial in a row.
func (p *Pool) backoff(n int) time.Duration {
	d := p.opts.Backoff
	for i := 1; i < n && d < p.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.opts.MaxBackoff)
	return d + p.jitter(d)
}

// connect takes a handshake slot, dials a and authenticates, and returns the client and the
// record of what its connection reads. Its errors do not name the node (Get does).
func (p *Pool) connect(a Addr) (*ssh.Client, *readClock, error) {
	select {
	case p.handshakes <- struct{}{}:
	case <-p.ctx.Done():
		return nil, nil, fmt.Errorf("%w: pool closed", ErrClosed)
	}
	defer func() { <-p.handshakes }()
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.HandshakeTimeout)
	defer cancel()

	knownHosts, err := expandHome(p.opts.KnownHosts)
	if err != nil {
		return nil, nil, err
	}
	db, err := hostKeys(knownHosts)
	if err != nil {
		return nil, nil, err
	}
	k, err := loadKeys(ctx, a.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	defer k.close()

	var mu sync.Mutex // the callback runs on x/crypto's handshake goroutine
	var hostKeyErr error
	cfg := &ssh.ClientConfig{
		User: a.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(k.signers...)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			err := checkHostKey(db, knownHosts, a.Name, a.hostport(), key)
			mu.Lock()
			defer mu.Unlock()
			hostKeyErr = err
			return err
		},
		HostKeyAlgorithms: db.HostKeyAlgorithms(a.hostport()),
	}
	tcp, err := p.dialer(ctx, "tcp", a.hostport())
	if err != nil {
		return nil, nil, err
	}
	nc := &readClock{Conn: tcp}
	// x/crypto's handshake takes no context: closing the connection aborts it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(nc, a.hostport(), cfg)
	if !stop() { // the timeout or Close aborted the handshake
		if err == nil {
			cc.Close()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("ssh handshake: timed out after %s", p.opts.HandshakeTimeout)
		}
		return nil, nil, fmt.Errorf("%w: pool closed", ErrClosed)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case err == nil:
		return ssh.NewClient(cc, chans, reqs), nc, nil
	case hostKeyErr != nil:
		return nil, nil, hostKeyErr
	case isAuthFailure(err):
		return nil, nil, fmt.Errorf("%w: %w (%s)", ErrAuth, err, k.describe())
	default:
		return nil, nil, err
	}
}

// Close closes the pool's connections, aborts the dials in progress, and waits for the
// goroutines of both. Later Gets fail with ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	var conns []*Conn
	for _, h := range p.hosts {
		if h.conn != nil {
			conns = append(conns, h.conn)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
	return nil
}
