package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// defaultKeys are the files under ~/.ssh offered after the agent's keys, when they exist.
var defaultKeys = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// keys are the keys offered to one host, in order: the node's key file, the agent's keys,
// then the default files. They are loaded for every dial, so that a key added to the agent
// or a file written since is used.
type keys struct {
	signers []ssh.Signer
	offered []string // a description of each signer, for the error of a failed authentication
	skipped []string // keys that could not be offered, and why
	agent   net.Conn // open while the agent's signers are in use; nil without an agent
}

// close closes the connection to the agent.
func (k *keys) close() {
	if k.agent != nil {
		k.agent.Close()
	}
}

// describe lists the offered and skipped keys for an error message.
func (k *keys) describe() string {
	s := "keys offered: " + strings.Join(k.offered, ", ")
	if len(k.skipped) > 0 {
		s += "; skipped: " + strings.Join(k.skipped, ", ")
	}
	return s
}

func (k *keys) add(s ssh.Signer, what string) {
	blob := s.PublicKey().Marshal()
	for _, have := range k.signers {
		if bytes.Equal(have.PublicKey().Marshal(), blob) {
			return
		}
	}
	k.signers = append(k.signers, s)
	k.offered = append(k.offered, what)
}

// agentHas reports whether the agent's signers include pub.
func agentHas(agentSigners []ssh.Signer, pub ssh.PublicKey) bool {
	if pub == nil {
		return false
	}
	for _, s := range agentSigners {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return true
		}
	}
	return false
}

// loadKeys gathers the keys to offer. keyFile is the node's key file ("" for none). An
// explicit key file that cannot be used is an error wrapping ErrAuth, and so is having no
// key at all; a default file that cannot be used is skipped (and named in the error of a
// failed authentication). ctx bounds the talk with the agent.
func loadKeys(ctx context.Context, keyFile string) (*keys, error) {
	k := &keys{}
	var agentSigners []ssh.Signer
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock != "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			k.skipped = append(k.skipped, fmt.Sprintf("ssh-agent (%v)", err))
		} else {
			k.agent = conn
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			agentSigners, err = agent.NewClient(conn).Signers()
			stop()
			if err != nil {
				k.skipped = append(k.skipped, fmt.Sprintf("ssh-agent (%v)", err))
			}
		}
	}
	encrypted := func(file string, pub ssh.PublicKey) error {
		switch {
		case agentHas(agentSigners, pub):
			return nil // the agent's signer offers it
		case sock == "":
			return fmt.Errorf("%w: key %s is protected by a passphrase and no ssh-agent is running (SSH_AUTH_SOCK is not set): add it to an agent with ssh-add %s", ErrAuth, file, file)
		case k.agent == nil:
			return fmt.Errorf("%w: key %s is protected by a passphrase and the ssh-agent at %s cannot be reached: add it to a running agent with ssh-add %s", ErrAuth, file, sock, file)
		case pub == nil && len(agentSigners) > 0:
			return nil // cannot tell which key it is: the agent may hold it
		default:
			return fmt.Errorf("%w: key %s is protected by a passphrase and ssh-agent does not hold it: add it with ssh-add %s", ErrAuth, file, file)
		}
	}

	if keyFile != "" {
		path, err := expandHome(keyFile)
		if err != nil {
			k.close()
			return nil, fmt.Errorf("%w: ssh key: %w", ErrAuth, err)
		}
		s, err := readKey(path)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			if err := encrypted(path, missing.PublicKey); err != nil {
				k.close()
				return nil, err
			}
		case err != nil:
			k.close()
			return nil, fmt.Errorf("%w: ssh key: %w", ErrAuth, err)
		default:
			k.add(s, path)
		}
	}
	for _, s := range agentSigners {
		k.add(s, "ssh-agent "+s.PublicKey().Type()+" "+ssh.FingerprintSHA256(s.PublicKey()))
	}
	if home, err := os.UserHomeDir(); err == nil {
		for _, name := range defaultKeys {
			path := filepath.Join(home, ".ssh", name)
			s, err := readKey(path)
			var missing *ssh.PassphraseMissingError
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case errors.As(err, &missing):
				if err := encrypted(path, missing.PublicKey); err != nil {
					k.skipped = append(k.skipped, path+" (protected by a passphrase, not in ssh-agent)")
				}
			case err != nil:
				k.skipped = append(k.skipped, err.Error())
			default:
				k.add(s, path)
			}
		}
	}
	if len(k.signers) == 0 {
		k.close()
		msg := "no key to offer: no ssh_key, no key in ssh-agent, no usable ~/.ssh/id_ed25519, id_ecdsa or id_rsa"
		if len(k.skipped) > 0 {
			msg += "; skipped: " + strings.Join(k.skipped, ", ")
		}
		return nil, fmt.Errorf("%w: %s", ErrAuth, msg)
	}
	return k, nil
}

// readKey reads and parses the private key file at path.
func readKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, err
		}
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return s, nil
}

// isAuthFailure reports whether err, from ssh.NewClientConn, says that no key was accepted.
// x/crypto/ssh has no error type for it: the text is its only sign.
func isAuthFailure(err error) bool {
	return strings.Contains(err.Error(), "unable to authenticate")
}
