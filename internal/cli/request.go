package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
)

// answerGrace is how much longer than its --timeout a command waits for the daemon's answer:
// the daemon enforces the timeout itself and then answers what timed out, which beats a bare
// "deadline exceeded" from this side.
const answerGrace = 5 * time.Second

// stack names the stack of a request: the services file, absolute, for the daemon does not
// share this working directory, and this command's environment, which ${VAR} reads and
// processes inherit. A file that does not exist is a usage error here, before any daemon is
// started for it; every other problem of the file is the daemon's to report.
func (a *app) stack() (api.Stack, error) {
	path, source := a.configPath()
	if a.verbose {
		fmt.Fprintf(a.stderr, "harness: config %s (from %s)\n", path, source)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return api.Stack{}, fmt.Errorf("config file %s: %w", path, err)
	}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		return api.Stack{}, missingConfig(path, source)
	}
	return api.Stack{Config: abs, Environ: a.env}, nil
}

// connect returns the stack of a request and a client of the daemon, started if need be.
func (a *app) connect(ctx context.Context) (api.Stack, *client.Client, error) {
	stack, err := a.stack()
	if err != nil {
		return api.Stack{}, nil, err
	}
	c, err := a.daemonClient(ctx)
	return stack, c, err
}

// client returns a client of the daemon of the data dir, and the data dir.
func (a *app) client() (*client.Client, string, error) {
	dir, err := a.dataDir()
	if err != nil {
		return nil, "", err
	}
	return client.New(dir), dir, nil
}

// withTimeout bounds ctx for a request whose --timeout is d (0: no bound), leaving the daemon
// answerGrace to answer after its own timeout.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d+answerGrace)
}

// timeoutError says, for an error of a request bounded by --timeout d, that the daemon did not
// answer in time; other errors pass unchanged.
func timeoutError(err error, d time.Duration) error {
	if d > 0 && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from the daemon within --timeout %s: %w", d, err)
	}
	return err
}

// checkTimeout rejects a negative --timeout.
func checkTimeout(d time.Duration) error {
	if d < 0 {
		return &usageError{fmt.Errorf("invalid --timeout %s: want a positive duration, or 0 for none", d)}
	}
	return nil
}
