package health

import (
	"context"
	"net"
)

// DialFunc opens a connection as net.Dialer.DialContext does. Checks of a service on a remote
// host dial through it, so that they connect from that host.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// dialer returns dial, or a plain net.Dialer's when dial is nil.
func dialer(dial DialFunc) DialFunc {
	if dial != nil {
		return dial
	}
	var d net.Dialer
	return d.DialContext
}

// TCP returns a Checker that is healthy when a TCP connection to address (host:port), opened
// through dial (nil: directly), opens. The connection is closed at once; nothing is sent.
func TCP(address string, dial DialFunc) Checker {
	dial = dialer(dial)
	return CheckerFunc(func(ctx context.Context) error {
		c, err := dial(ctx, "tcp", address)
		if err != nil {
			return err // "dial tcp 127.0.0.1:6379: connect: connection refused"
		}
		c.Close() // the connection opened: that is the whole check
		return nil
	})
}
