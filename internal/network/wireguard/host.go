package wireguard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Interface is what a host's mesh interface must be: its name, port, the host's mesh address
// with the mesh's prefix length (so the whole mesh is routed through it), and its peers.
type Interface struct {
	Name       string
	ListenPort int
	Address    netip.Prefix
	Peers      []Peer
}

// Up makes this host's interface ifc.Name what ifc says, with the private key kept in
// keyFile (created when there is none): spawn starts the device process (one that runs
// Serve) when no device answers on its socket, and returns once it was started; Up then waits
// for the socket. The device gets exactly ifc's peers (Set); the address is set and the link
// brought up only when they differ. It reports whether it started the device, even when it
// fails after that.
func Up(ctx context.Context, ifc Interface, keyFile string, spawn func(context.Context) error) (started bool, err error) {
	key, err := LoadOrCreateKey(keyFile)
	if err != nil {
		return false, err
	}
	if started, err = ensureDevice(ctx, ifc.Name, spawn); err != nil {
		return started, err
	}
	if err := Set(ctx, ifc.Name, Config{PrivateKey: key, ListenPort: ifc.ListenPort, Peers: ifc.Peers}); err != nil {
		return started, err
	}
	return started, setAddress(ifc.Name, ifc.Address)
}

// PublicKey is the public key of the private key in keyFile, created when there is none.
func PublicKey(keyFile string) (Key, error) {
	k, err := LoadOrCreateKey(keyFile)
	return k.PublicKey(), err
}

// deviceWait bounds the wait for a spawned device to answer on its socket.
const deviceWait = 10 * time.Second

// ensureDevice starts the device of name unless one answers on its socket, and reports
// whether it did.
func ensureDevice(ctx context.Context, name string, spawn func(context.Context) error) (bool, error) {
	if answers(ctx, name) {
		return false, nil
	}
	if err := spawn(ctx); err != nil {
		return false, fmt.Errorf("wireguard %s: start the device: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, deviceWait)
	defer cancel()
	for !answers(ctx, name) {
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("wireguard %s: the device started does not answer on %s: %w", name, SocketPath(name), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true, nil
}

// answers reports whether a device answers on the socket of name.
func answers(ctx context.Context, name string) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", SocketPath(name))
	if err == nil {
		c.Close()
	}
	return err == nil
}

// Set makes cfg the configuration of the device of name, through its socket: its peers are
// those of cfg, with the sessions of the peers it already had kept.
func Set(ctx context.Context, name string, cfg Config) error {
	cur, err := Show(ctx, name)
	if err != nil {
		return err
	}
	_, err = uapi(ctx, name, "set=1\n"+cfg.uapi(cur)+"\n")
	return err
}

// Show reads the device of name through its socket. ErrNoDevice: there is none.
func Show(ctx context.Context, name string) (Status, error) {
	answer, err := uapi(ctx, name, "get=1\n\n")
	if err != nil {
		return Status{}, err
	}
	return parseStatus(answer)
}

// ErrNoDevice is an interface that no device serves.
var ErrNoDevice = errors.New("no such wireguard device")

// uapiTimeout bounds one UAPI conversation.
const uapiTimeout = 5 * time.Second

// uapi sends one request to the device of name and returns its answer, up to and without the
// blank line that ends it, once its errno is 0.
func uapi(ctx context.Context, name, request string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", SocketPath(name))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return "", fmt.Errorf("wireguard %s: %w", name, ErrNoDevice)
	}
	if err != nil {
		return "", fmt.Errorf("wireguard %s: %w", name, err)
	}
	defer c.Close()
	deadline := time.Now().Add(uapiTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte(request)); err != nil {
		return "", fmt.Errorf("wireguard %s: %w", name, err)
	}
	var b strings.Builder
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("wireguard %s: read the answer: %w", name, err)
		}
		if line == "\n" {
			break
		}
		if errno, ok := strings.CutPrefix(line, "errno="); ok && strings.TrimSpace(errno) != "0" {
			return "", fmt.Errorf("wireguard %s: the device refused the request (errno %s)", name, strings.TrimSpace(errno))
		}
		b.WriteString(line)
	}
	return b.String(), nil
}

// Down deletes interface name, which ends its device process, and waits until its socket is
// gone. An interface that does not exist is not an error: it reports false.
func Down(ctx context.Context, name string) (bool, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		// No interface: a device process left without one has nothing to serve.
		_ = os.Remove(SocketPath(name))
		return false, nil
	}
	if err := linkDelete(ifc.Index); err != nil {
		return false, fmt.Errorf("wireguard %s: delete the interface: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, deviceWait)
	defer cancel()
	for answers(ctx, name) {
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("wireguard %s: the device still answers after its interface was deleted: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true, nil
}

// setAddress gives interface name the address a (and no other global one), and brings it up.
func setAddress(name string, a netip.Prefix) error {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("wireguard %s: %w", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return fmt.Errorf("wireguard %s: %w", name, err)
	}
	var have []netip.Prefix
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			if p := netip.PrefixFrom(ip.Unmap(), ones); !p.Addr().IsLinkLocalUnicast() {
				have = append(have, p)
			}
		}
	}
	if !slices.Equal(have, []netip.Prefix{a}) {
		for _, p := range have {
			if err := addrDelete(ifc.Index, p); err != nil {
				return fmt.Errorf("wireguard %s: remove address %s: %w", name, p, err)
			}
		}
		if err := addrAdd(ifc.Index, a); err != nil {
			return fmt.Errorf("wireguard %s: add address %s: %w", name, a, err)
		}
	}
	if ifc.Flags&net.FlagUp == 0 {
		if err := linkUp(ifc.Index); err != nil {
			return fmt.Errorf("wireguard %s: set the link up: %w", name, err)
		}
	}
	return nil
}

// Node is a host whose mesh interfaces harness manages: a node through its agent.
type Node interface {
	// WireguardKey is the public key of interface name's private key, created when missing,
	// or replaced by a new one with rotate. A device keeps the key it has until WireguardUp.
	WireguardKey(ctx context.Context, name string, rotate bool) (Key, error)
	// WireguardUp makes the interface what ifc says (Up) and reports whether it started its
	// device, even when it fails after that.
	WireguardUp(ctx context.Context, ifc Interface) (started bool, err error)
	// WireguardShow reads the interface's device (Show).
	WireguardShow(ctx context.Context, name string) (Status, error)
	// WireguardDown removes the interface (Down).
	WireguardDown(ctx context.Context, name string) (bool, error)
}

// Local is this host as a Node: its keys in KeyDir (NAME.key), its devices started by Spawn.
type Local struct {
	KeyDir string
	// Spawn starts the device process of interface name (one that runs Serve) and returns
	// once it was started.
	Spawn func(ctx context.Context, name string) error
}

var _ Node = Local{}

func (l Local) keyFile(name string) string {
	return filepath.Join(l.KeyDir, filepath.Base(name)+".key")
}

// WireguardKey is the public key of interface name, its private key created when missing or
// replaced with rotate.
func (l Local) WireguardKey(_ context.Context, name string, rotate bool) (Key, error) {
	if rotate {
		k, err := RotateKey(l.keyFile(name))
		return k.PublicKey(), err
	}
	return PublicKey(l.keyFile(name))
}

// WireguardUp brings interface ifc.Name up as ifc says (Up).
func (l Local) WireguardUp(ctx context.Context, ifc Interface) (bool, error) {
	return Up(ctx, ifc, l.keyFile(ifc.Name), func(ctx context.Context) error { return l.Spawn(ctx, ifc.Name) })
}

// WireguardShow reads the device of interface name (Show).
func (l Local) WireguardShow(ctx context.Context, name string) (Status, error) {
	return Show(ctx, name)
}

// WireguardDown removes interface name (Down).
func (l Local) WireguardDown(ctx context.Context, name string) (bool, error) {
	return Down(ctx, name)
}
