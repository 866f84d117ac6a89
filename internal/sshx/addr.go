package sshx

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Addr says how to reach a node over SSH.
type Addr struct {
	// Name is the node's name, used in error messages; default Host.
	Name string
	// Host is the IP address or DNS name to connect to.
	Host string
	// Port is the SSH port; default 22.
	Port int
	// User is the login user; default the current user.
	User string
	// KeyFile is a private key file to offer first ("~" is expanded); optional.
	KeyFile string
}

// String returns the address in the form user@host:port.
func (a Addr) String() string {
	return a.User + "@" + a.hostport()
}

func (a Addr) hostport() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// label names the node in error messages: "node a (root@10.1.2.3:22)".
func (a Addr) label() string { return fmt.Sprintf("node %s (%s)", a.Name, a) }

// withDefaults fills in the defaults of the empty fields.
func (a Addr) withDefaults() (Addr, error) {
	if a.Port == 0 {
		a.Port = 22
	}
	if a.Name == "" {
		a.Name = a.Host
	}
	if a.Host == "" {
		return a, fmt.Errorf("node %s: no host", a.Name)
	}
	if a.User == "" {
		u, err := user.Current()
		if err != nil {
			return a, fmt.Errorf("node %s: no ssh user, and the current user is unknown: %w", a.Name, err)
		}
		a.User = u.Username
	}
	return a, nil
}

// expandHome replaces a leading "~" of path by the home directory ($HOME).
func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", path, err)
	}
	return filepath.Join(home, path[1:]), nil
}
