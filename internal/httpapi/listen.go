package httpapi

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// probeTimeout bounds the dial that tells a live socket from a stale one. A daemon that
// listens accepts at once (the kernel completes the connection before Accept).
const probeTimeout = time.Second

// Listen listens on the unix socket at path, mode 0600. A stale socket file (nothing accepts on
// it) is replaced; a live one is an error that says a daemon already listens there. Closing
// the listener removes the socket file.
//
// The socket exists for a moment with the process's umask before it is made 0600: keep it in
// a directory only its owner may enter (the data dir is 0700).
func Listen(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if errors.Is(err, syscall.EADDRINUSE) {
		if err := removeStale(path); err != nil {
			return nil, err
		}
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

// removeStale removes the socket file at path if nothing accepts on it. It refuses to remove
// anything that is not a socket, and a socket a daemon listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen: %s exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		conn.Close()
		return fmt.Errorf("listen: a daemon already listens on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("listen: probe %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("listen: remove stale socket: %w", err)
	}
	return nil
}
