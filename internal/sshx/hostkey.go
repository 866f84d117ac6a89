package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// withPort returns hostport with ":22" added when it has no port.
func withPort(hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return net.JoinHostPort(hostport, "22")
	}
	return hostport
}

// normalizeHost returns hostport as written in known_hosts: "10.1.2.3", "[10.1.2.3]:2222".
func normalizeHost(hostport string) string { return knownhosts.Normalize(withPort(hostport)) }

// hostAddr is a net.Addr that is a host:port string, for the known_hosts callback, which
// checks the address it is given rather than the resolved one.
type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// hostKeys reads the known_hosts file at path (already expanded); a missing file knows
// no host.
func hostKeys(path string) (*knownhosts.HostKeyDB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return knownhosts.NewDB()
	}
	db, err := knownhosts.NewDB(path)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	return db, nil
}

// checkHostKey checks key against db for hostport; it returns a *HostKeyError for an
// unknown or changed key.
func checkHostKey(db *knownhosts.HostKeyDB, file, node, hostport string, key ssh.PublicKey) error {
	hostport = withPort(hostport)
	err := db.HostKeyCallback()(hostport, hostAddr(hostport), key)
	switch {
	case err == nil:
		return nil
	case knownhosts.IsHostUnknown(err):
		return newHostKeyError(node, hostport, file, key, false)
	case knownhosts.IsHostKeyChanged(err):
		return newHostKeyError(node, hostport, file, key, true)
	default: // a revoked key, or a malformed address
		return fmt.Errorf("check host key of %s: %w", normalizeHost(hostport), err)
	}
}

// errScanned aborts the handshake of ScanHostKey once the key is known.
var errScanned = errors.New("host key scanned")

// ScanHostKey connects to addr ("host:port"; port 22 when absent), takes the host key from
// the handshake and aborts it before authenticating. It does not check the key: show its
// fingerprint (ssh.FingerprintSHA256) to the user before trusting it.
func ScanHostKey(ctx context.Context, addr string, timeout time.Duration) (ssh.PublicKey, error) {
	addr = withPort(addr)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("scan host key of %s: %w", addr, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "harness",
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errScanned
		},
	}
	c, _, _, err := ssh.NewClientConn(nc, addr, cfg)
	if err == nil { // cannot happen: the callback always fails
		c.Close()
	}
	if key == nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("scan host key of %s: %w", addr, err)
	}
	return key, nil
}

// Trust records key as the host key of hostport ("host:port"; port 22 when absent) in the
// known_hosts file at path ("~" expanded), creating the file (0600) and its directory
// (0700) when missing. Trusting a key that is already recorded does nothing. When the file
// has another key for the host, Trust refuses with a *HostKeyError wrapping
// ErrHostKeyChanged: the old key must be removed on purpose first (ssh-keygen -R).
func Trust(path, hostport string, key ssh.PublicKey) error {
	path, err := expandHome(path)
	if err != nil {
		return fmt.Errorf("trust host key: %w", err)
	}
	hostport = withPort(hostport)
	db, err := hostKeys(path)
	if err != nil {
		return fmt.Errorf("trust host key of %s: %w", normalizeHost(hostport), err)
	}
	err = checkHostKey(db, path, normalizeHost(hostport), hostport, key)
	var hkErr *HostKeyError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &hkErr) || hkErr.Changed:
		return fmt.Errorf("trust host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("trust host key of %s: %w", hkErr.Host, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("trust host key of %s: %w", hkErr.Host, err)
	}
	line := knownhosts.Line([]string{hkErr.Host}, key) + "\n"
	if endsWithoutNewline(f) {
		line = "\n" + line
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("trust host key of %s: %w", hkErr.Host, err)
	}
	return nil
}

// endsWithoutNewline reports whether the file f has content whose last byte is not '\n',
// so that an appended line would join the last one.
func endsWithoutNewline(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], st.Size()-1); err != nil && err != io.EOF {
		return false
	}
	return b[0] != '\n'
}
