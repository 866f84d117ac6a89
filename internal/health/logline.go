package health

import (
	"context"
	"fmt"
	"regexp"
	"sync"
)

// LineSource delivers a service's output line by line. It is owned here; the log writer
// implements it.
type LineSource interface {
	// Subscribe returns a channel that receives every line written after Subscribe returns,
	// without its line ending, in order, until ctx ends or the output ends (the instance
	// exited); the source then closes the channel. Subscribe registers the subscriber and
	// returns without waiting for output. A source must not drop lines for a subscriber that
	// is slow to read: the dropped line may be the one that matches.
	Subscribe(ctx context.Context) (<-chan string, error)
}

// logLineChecker is the Checker that LogLine returns.
type logLineChecker struct {
	re *regexp.Regexp

	mu      sync.Mutex
	lines   <-chan string
	cancel  context.CancelFunc
	err     error // the subscription failed or the output ended: every check reports it
	matched bool
}

// LogLine returns a Checker that is healthy once a line of output written after LogLine was
// called matches re. It subscribes to src at once, so no line is lost between creating the
// checker and its first check.
//
// Once a line has matched, the checker stays healthy for good and drops its subscription: a
// log line announces readiness once, and says nothing about the service afterwards. Check
// never waits for output: it reads the lines that arrived since the previous check and
// reports whether one matched. Without a match the subscription lasts until the source closes
// it, that is until the instance's output ends.
func LogLine(src LineSource, re *regexp.Regexp) Checker {
	c := &logLineChecker{re: re}
	// The subscription outlives every single check, so no check's context can bound it; it
	// ends when a line matches or the source closes it.
	ctx, cancel := context.WithCancel(context.Background())
	lines, err := src.Subscribe(ctx)
	if err != nil {
		cancel()
		c.err = fmt.Errorf("log line: subscribe to output: %w", err)
		return c
	}
	c.lines, c.cancel = lines, cancel
	return c
}

// Check implements Checker.
func (c *logLineChecker) Check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.matched:
		return nil
	case c.err != nil:
		return c.err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case line, ok := <-c.lines:
			if !ok {
				c.cancel()
				c.err = fmt.Errorf("log line: output ended with no line matching %q", c.re)
				return c.err
			}
			if c.re.MatchString(line) {
				c.cancel()
				c.matched, c.lines = true, nil
				return nil
			}
		default:
			return fmt.Errorf("log line: no line matches %q yet", c.re)
		}
	}
}
