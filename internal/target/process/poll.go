package process

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// A poller watches descriptors (pidfds, the read ends of output pipes) with an epoll
// instance of its own and one goroutine that waits on it for all of them. Each descriptor is
// armed for one event: when it turns readable, its function runs on a goroutine of its own,
// and the descriptor is not watched again until it is armed again. A goroutine parked per
// descriptor in the runtime poller would do the same, but a thousand quiet services would
// then hold three thousand parked goroutines and their stacks (≈8 MB) for nothing; here a
// quiet service costs no goroutine at all.
type poller struct {
	epfd int
	wake int // an eventfd in the set, token 0: written by stop

	mu   sync.Mutex
	fns  map[uint64]func() // by token
	next uint64
}

// newPoller makes a poller; run it with run.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	p := &poller{epfd: epfd, wake: wake, fns: map[uint64]func(){}, next: 1}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		p.close()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return p, nil
}

// watch arms fd: once it is readable (or hung up), fn runs. It returns fd's token, for
// rearm and forget.
func (p *poller) watch(fd int, fn func()) (uint64, error) {
	p.mu.Lock()
	tok := p.next
	p.next++
	p.fns[tok] = fn
	p.mu.Unlock()
	if err := p.ctl(unix.EPOLL_CTL_ADD, fd, tok); err != nil {
		p.mu.Lock()
		delete(p.fns, tok)
		p.mu.Unlock()
		return 0, err
	}
	return tok, nil
}

// rearm arms fd again, after its function ran.
func (p *poller) rearm(fd int, tok uint64) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, tok)
}

// forget stops watching fd; called before fd is closed. (Closing is not enough: a pipe
// whose other read end a service holds stays in the set.)
func (p *poller) forget(fd int, tok uint64) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	p.mu.Lock()
	delete(p.fns, tok)
	p.mu.Unlock()
}

func (p *poller) ctl(op, fd int, tok uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(uint32(tok)), Pad: int32(uint32(tok >> 32))}
	if err := unix.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// run waits for events, and hands the function of each descriptor that turned ready to
// spawn, until stop.
func (p *poller) run(spawn func(func())) error {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("epoll_wait", err)
		}
		for _, ev := range events[:n] {
			tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if tok == 0 {
				return nil // stop
			}
			p.mu.Lock()
			fn := p.fns[tok]
			p.mu.Unlock()
			if fn != nil { // nil: forgotten while its event was on its way
				spawn(fn)
			}
		}
	}
}

// stop ends run.
func (p *poller) stop() {
	one := [8]byte{1}
	_, _ = unix.Write(p.wake, one[:])
}

// close releases the poller, once run has returned.
func (p *poller) close() {
	unix.Close(p.epfd)
	unix.Close(p.wake)
}

// fdReader reads a non-blocking descriptor: a read that would block is unix.EAGAIN, the
// end is io.EOF.
type fdReader int

func (fd fdReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
