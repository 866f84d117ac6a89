package health

import (
	"context"
	"strings"
)

// Checker makes one health check attempt.
type Checker interface {
	// Check makes one attempt and returns nil when the service is healthy, or an error that
	// says the real cause. It returns soon after ctx ends: a Probe abandons a Check that
	// ignores its context past the deadline, but cannot stop it.
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// maxRead bounds what a checker reads of a response or keeps of a command's output: a health
// endpoint that streams forever must not make a check read forever.
const maxRead = 64 << 10

// firstLine returns the first non-blank line of out, trimmed and cut to a readable length, for
// error messages.
func firstLine(out []byte) string {
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		const max = 200
		if len(line) > max {
			line = strings.ToValidUTF8(line[:max], "") + "…"
		}
		return line
	}
	return ""
}
