package sshx

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

var (
	// ErrUnknownHost is wrapped by a *HostKeyError when known_hosts has no key of the host.
	ErrUnknownHost = errors.New("unknown ssh host")
	// ErrHostKeyChanged is wrapped by a *HostKeyError when the host offers a key other than
	// the one in known_hosts.
	ErrHostKeyChanged = errors.New("ssh host key changed")
	// ErrAuth is wrapped by the errors of a failed authentication, and of keys that cannot be
	// offered (unreadable, or encrypted and not in ssh-agent).
	ErrAuth = errors.New("ssh authentication failed")
	// ErrBackoff is wrapped (beside the last dial error) by a Get that fails fast because the
	// last dial of the node failed a moment ago.
	ErrBackoff = errors.New("backing off")
	// ErrClosed is wrapped by operations on a connection that has ended, and by a Get on a
	// closed Pool.
	ErrClosed = errors.New("ssh connection closed")
	// ErrKeepalive is the reason of a connection closed because keepalives went unanswered.
	ErrKeepalive = errors.New("ssh keepalives unanswered")
)

// HostKeyError reports a host whose key is not the one known_hosts expects: unknown
// (Changed false, wraps ErrUnknownHost) or changed (Changed true, wraps ErrHostKeyChanged).
type HostKeyError struct {
	// Node names the node, for the hint to trust it.
	Node string
	// Host is the host as written in known_hosts: "10.1.2.3" or "[10.1.2.3]:2222".
	Host string
	// Key is the key the host offered.
	Key ssh.PublicKey
	// Fingerprint is ssh.FingerprintSHA256 of Key: "SHA256:...".
	Fingerprint string
	// Changed says known_hosts has another key for Host.
	Changed bool
	// File is the known_hosts file.
	File string
}

func newHostKeyError(node, hostport, file string, key ssh.PublicKey, changed bool) *HostKeyError {
	return &HostKeyError{
		Node:        node,
		Host:        normalizeHost(hostport),
		Key:         key,
		Fingerprint: ssh.FingerprintSHA256(key),
		Changed:     changed,
		File:        file,
	}
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host key of %s changed: it offers %s %s, which is not the key in %s; "+
			"this could be an attack (someone in the middle): if the host was reinstalled, "+
			"remove its old key (ssh-keygen -R '%s' -f %s) and run `harness hosts trust %s`",
			e.Host, e.Key.Type(), e.Fingerprint, e.File, e.Host, e.File, e.Node)
	}
	return fmt.Sprintf("unknown host %s: its key %s %s is not in %s; "+
		"if that is the host's key, trust it with `harness hosts trust %s`",
		e.Host, e.Key.Type(), e.Fingerprint, e.File, e.Node)
}

// Unwrap returns ErrHostKeyChanged or ErrUnknownHost.
func (e *HostKeyError) Unwrap() error {
	if e.Changed {
		return ErrHostKeyChanged
	}
	return ErrUnknownHost
}
