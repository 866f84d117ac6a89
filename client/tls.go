package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// NewTLS returns a client of a daemon's TLS listener at addr ("HOST:PORT", as given to
// `harness daemon run --listen tcp://HOST:PORT`). It trusts the CA in certDir (the daemon's
// DATA/certs, or a copy of it) and presents the client certificate there (client.crt and
// client.key): the daemon refuses a client without one.
func NewTLS(addr, certDir string) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("daemon address %q: %w", addr, err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "client.crt"), filepath.Join(certDir, "client.key"))
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("daemon CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("daemon CA: no certificate in ca.crt")
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS13}
	return &Client{
		socket: addr,
		base:   "https://harness",
		http: &http.Client{Transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				d := tls.Dialer{Config: cfg}
				conn, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					return nil, &dialError{err}
				}
				return conn, nil
			},
			DisableKeepAlives: true,
		}},
	}, nil
}
