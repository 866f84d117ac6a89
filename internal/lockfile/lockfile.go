// Package lockfile takes the exclusive lock of a directory that one process owns at a time:
// the daemon's data dir, the agent's dir on a host.
//
// The lock is an flock on an open file that holds the owner's PID: it ends with the process,
// so an owner killed with SIGKILL leaves no stale lock.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked: another process holds the lock. Lock returns it as a *HeldError.
var ErrLocked = errors.New("locked by another process")

// HeldError is the error of a lock that another process holds.
type HeldError struct {
	Path string
	PID  string // as the holder wrote it; empty when it could not be read
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s: %v (pid %s)", e.Path, ErrLocked, e.PID)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *HeldError) Is(target error) bool { return target == ErrLocked }

// Lock takes the lock at path, creating the file (0600), and writes this process's PID into
// it. When another process holds it, the error is a *HeldError, which names its PID.
// Closing the file releases the lock.
func Lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Path: path, PID: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
