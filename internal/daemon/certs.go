package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is how long the certificates made for the TLS listener are valid.
const certValidity = 365 * 24 * time.Hour

// The files of DATA/certs: a CA, the daemon's server certificate (SANs localhost and
// 127.0.0.1) and a client certificate, each with its key (0600).
const (
	caCert     = "ca.crt"
	caKey      = "ca.key"
	serverCert = "server.crt"
	serverKey  = "server.key"
	clientCert = "client.crt"
	clientKey  = "client.key"
)

// tlsConfig returns the server side of the TLS listener: the certificates of dir, made on
// first use (or when they expired), and a client certificate from the CA required.
func tlsConfig(dir string) (*tls.Config, error) {
	if err := ensureCerts(dir, time.Now()); err != nil {
		return nil, fmt.Errorf("certificates in %s: %w", dir, err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, serverCert), filepath.Join(dir, serverKey))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, caCert))
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no certificate", caCert)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// ensureCerts makes the CA, server and client certificates in dir unless valid ones are there.
func ensureCerts(dir string, now time.Time) error {
	if valid(filepath.Join(dir, caCert), now) && valid(filepath.Join(dir, serverCert), now) && valid(filepath.Join(dir, clientCert), now) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caTmpl := template(1, "harness CA", now)
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	ca, caPriv, err := issue(dir, caCert, caKey, caTmpl, nil, nil)
	if err != nil {
		return err
	}
	srv := template(2, "harness daemon", now)
	srv.DNSNames, srv.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	srv.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, _, err := issue(dir, serverCert, serverKey, srv, ca, caPriv); err != nil {
		return err
	}
	cli := template(3, "harness client", now)
	cli.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	_, _, err = issue(dir, clientCert, clientKey, cli, ca, caPriv)
	return err
}

// valid reports whether the certificate file at path parses and is valid at now.
func valid(path string, now time.Time) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return false
	}
	c, err := x509.ParseCertificate(block.Bytes)
	return err == nil && now.After(c.NotBefore) && now.Before(c.NotAfter)
}

func template(serial int64, name string, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + serial),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"harness"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// issue makes a key and a certificate from tmpl, signed by parent (self-signed when nil), and
// writes them to dir: the certificate 0644, the key 0600.
func issue(dir, certName, keyName string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, keyName), "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, certName), "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// writePEM replaces the file at path with one PEM block, made with mode perm from the start
// (a key is never readable by others, not even for a moment).
func writePEM(path, kind string, der []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	err = pem.Encode(f, &pem.Block{Type: kind, Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm) // the umask may have taken bits away
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
