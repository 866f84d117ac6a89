package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/client"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestTLSListener(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{DataDir: data, Listen: "tcp://" + addr}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	certs := filepath.Join(data, "certs")
	var c *client.Client
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if c, err = client.NewTLS(addr, certs); err == nil {
			if _, err = c.Daemon(ctx); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on the TLS listener: %v", err)
		}
	}

	// The files: keys 0600, certificates valid for a year, the server's for localhost and 127.0.0.1.
	for name, mode := range map[string]os.FileMode{caKey: 0o600, serverKey: 0o600, clientKey: 0o600, caCert: 0o644, serverCert: 0o644, clientCert: 0o644} {
		fi, err := os.Stat(filepath.Join(certs, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode().Perm(), err, mode)
		}
	}
	b, err := os.ReadFile(filepath.Join(certs, serverCert))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	srv, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if days := srv.NotAfter.Sub(srv.NotBefore).Hours() / 24; days < 364 || days > 366 {
		t.Errorf("server certificate valid for %.1f days, want a year", days)
	}
	if len(srv.DNSNames) != 1 || srv.DNSNames[0] != "localhost" || len(srv.IPAddresses) != 1 || !srv.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("server SANs %v %v, want localhost and 127.0.0.1", srv.DNSNames, srv.IPAddresses)
	}

	// A client that trusts the CA but has no client certificate is refused.
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(filepath.Join(certs, caCert))
	pool.AppendCertsFromPEM(ca)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	if err == nil {
		defer conn.Close()
		_, err = conn.Write([]byte("GET " + api.PathDaemon + " HTTP/1.1\r\nHost: harness\r\n\r\n"))
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
	}
	if err == nil {
		t.Error("a client without a certificate was served")
	}
}
