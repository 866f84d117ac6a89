// Package client is the Go client of the harness daemon: it sends the requests of package api
// to the daemon of a data dir, over HTTP/1.1 and JSON on the unix socket DATA/harness.sock.
// The harness CLI talks to the daemon only through it, and so can any Go program.
//
// Errors: every method wraps its error once with its operation ("start: …"). A request the
// daemon refuses returns the *api.Error it sent, so errors.Is(err, api.ErrNotFound) and the
// like work. When no daemon answers on the socket (no socket file, or a stale one), the error
// wraps ErrUnreachable and the dial error, which names the socket and the real cause. When ctx
// ends, the error wraps ctx.Err(). There are no timeouts but the caller's ctx.
//
// Concurrency: a Client is safe for concurrent use. It keeps no connection between requests
// (one connection per request, closed when it ends), so it holds no goroutine and needs no
// Close.
package client
