package health

import (
	"context"
	"net"
)

// TCP returns a Checker that is healthy when a TCP connection to address (host:port) opens.
// The connection is closed at once; nothing is sent.
func TCP(address string) Checker {
	return CheckerFunc(func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return err // "dial tcp 127.0.0.1:6379: connect: connection refused"
		}
		c.Close() // the connection opened: that is the whole check
		return nil
	})
}
