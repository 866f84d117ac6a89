package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by Run when another daemon holds the data dir.
var ErrLocked = errors.New("another daemon runs on this data dir")

// lockDataDir takes the exclusive lock of the data dir, DATA/daemon.lock, and writes this
// process's PID into it. The lock is an flock on the open file: it ends with the process, so
// a daemon killed with SIGKILL leaves no stale lock.
func lockDataDir(dir string) (*os.File, error) {
	path := dir + "/daemon.lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w (pid %s)", dir, ErrLocked, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return f, nil
}
