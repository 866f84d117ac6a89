// Package dropped tells a connection that its server ended without an answer: one that is
// going away (killed, its threads still ending, or being replaced) accepts a connection and
// then drops it. A request that changes nothing may then be sent again: by the time it is,
// the server is gone (the dial is refused) or another answers.
package dropped

import (
	"errors"
	"io"
	"syscall"
	"time"
)

// How long, and how often, a dropped request that changes nothing is sent again.
const (
	Wait  = 2 * time.Second
	Every = 10 * time.Millisecond
)

// Is reports whether err is a connection that its server ended without an answer.
func Is(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
