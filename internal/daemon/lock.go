package daemon

import (
	"errors"
	"fmt"
	"os"

	"github.com/graph-network-harness/harness/internal/lockfile"
)

// ErrLocked is returned by Run when another daemon holds the data dir.
var ErrLocked = errors.New("another daemon runs on this data dir")

// lockDataDir takes the exclusive lock of the data dir, DATA/daemon.lock (see lockfile).
func lockDataDir(dir string) (*os.File, error) {
	f, err := lockfile.Lock(dir + "/daemon.lock")
	if held := (*lockfile.HeldError)(nil); errors.As(err, &held) {
		return nil, fmt.Errorf("%s: %w (pid %s)", dir, ErrLocked, held.PID)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return f, nil
}
