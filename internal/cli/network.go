package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) networkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "The network view (nodes, addresses, links, meshes, service addresses) and mesh keys",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Read every node and show its addresses, the links between nodes, and where each service is reached from each node",
		Long: `show asks the daemon (started on demand) to read every node of the services file at
once: the controller's host ("local") and each remote node, through its agent
(started on the nodes that lack one; nothing else is). It prints:

  NODE  NETWORK  TYPE  HOST  REACHABLE  ADDRESSES

the addresses of the node's interfaces that are up (loopback left out), as read
there; HOST is marked "(not local)" when it is not one of them (a name, or an
address translated on the way). Then LINKS: from every node, a TCP connection to
every other node's SSH address ("direct", with the time of the handshake, or why
not). Then MESH, for every wireguard network with a mesh up: each member's
interface, its mesh address and port, and for each peer its endpoint, its last
handshake and the bytes received and sent. Then, for every service, the address a process on each node reaches it at,
and by which way (loopback, bridge, lan, mesh): what ${svc.addr} and the D_ADDR
variables hold there.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "nodes": [{"name", "network", "type", "host", "reachable", "error",
   "interfaces": [{"name", "up", "addrs": [CIDR]}], "host_local",
   "mesh": [{"network", "interface", "addrs", "public_key", "listen_port", "error",
     "peers": [{"node", "public_key", "endpoint", "allowed_ips", "last_handshake",
                "rx_bytes", "tx_bytes"}]}]}],
   "links": [{"from", "to", "direct", "rtt", "error"}],
   "services": [{"name", "node", "from": [{"node", "addr", "via", "error"}]}]}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.networkShow(cmd.Context()) },
	}
	rotate := &cobra.Command{
		Use:   "rotate-keys",
		Short: "Give every member of the stack's WireGuard meshes a new private key",
		Long: `rotate-keys makes a new private key on every member of the stack's meshes (on its
node, mode 0600, never sent anywhere) and, for a mesh that is up, gives every
member's device its new key and its peers' new public keys: each pair of members
makes one new handshake, nothing is restarted, a connection may wait for it. A
mesh that is down gets the new keys at its next start. It prints the members'
new public keys.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "meshes": [{"network", "up", "members": [{"node", "public_key"}]}]}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.rotateKeys(cmd.Context()) },
	}
	cmd.AddCommand(show, rotate)
	return cmd
}

func (a *app) rotateKeys(ctx context.Context) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	resp, err := c.RotateKeys(ctx, api.NetworkRequest{Stack: stack})
	if err != nil {
		return err
	}
	if a.json() {
		return a.writeJSON(resp)
	}
	if len(resp.Meshes) == 0 {
		_, err := fmt.Fprintln(a.stdout, "no mesh: no service talks across a wireguard network")
		return err
	}
	for _, m := range resp.Meshes {
		state := "down: the new keys serve its next start"
		if m.Up {
			state = "up: reconfigured with the new keys"
		}
		fmt.Fprintf(a.stdout, "mesh %s (%s)\n", m.Network, state)
		for _, k := range m.Members {
			fmt.Fprintf(a.stdout, "  %s  %s\n", k.Node, k.PublicKey)
		}
	}
	return nil
}

func (a *app) networkShow(ctx context.Context) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	resp, err := c.Network(ctx, api.NetworkRequest{Stack: stack})
	if err != nil {
		return err
	}
	if a.json() {
		return a.writeJSON(resp)
	}
	return writeNetwork(a.stdout, a.colors(a.stdout), resp, a.now())
}

var networkHeader = []string{"NODE", "NETWORK", "TYPE", "HOST", "REACHABLE", "ADDRESSES"}

// writeNetwork prints the nodes, the links, the meshes and the service addresses of resp;
// handshakes are told relative to now.
func writeNetwork(w io.Writer, p palette, resp api.NetworkResponse, now time.Time) error {
	rows := make([][]cell, len(resp.Nodes))
	var notes []string
	for i, n := range resp.Nodes {
		reach, color := "yes", green
		if !n.Reachable {
			reach, color = "no", red
			notes = append(notes, n.Name+": "+n.Error)
		}
		host := orDash(n.Host)
		if n.Reachable && n.Host != "" && !n.HostLocal {
			host += " (not local)"
		}
		rows[i] = []cell{{text: n.Name}, {text: n.Network}, {text: n.Type}, {text: host}, {text: reach, color: color}, {text: addressesText(n.Interfaces)}}
	}
	if err := writeTableNotes(w, p, networkHeader, rows, notes); err != nil {
		return err
	}
	if len(resp.Links) > 0 {
		fmt.Fprintln(w, "\nLINKS (a TCP connection from each node to the other's SSH address)")
		for _, l := range resp.Links {
			if l.Direct {
				fmt.Fprintf(w, "  %s → %s  %s  %s\n", l.From, l.To, p.paint(green, "direct"), shortLatency(time.Duration(l.RTT)))
			} else {
				fmt.Fprintf(w, "  %s → %s  %s  %s\n", l.From, l.To, p.paint(red, "no"), l.Error)
			}
		}
	}
	writeMeshes(w, p, resp.Nodes, now)
	if len(resp.Services) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	header := []string{"SERVICE", "NODE"}
	for _, n := range resp.Nodes {
		header = append(header, "FROM "+n.Name)
	}
	rows = make([][]cell, len(resp.Services))
	notes = nil
	for i, s := range resp.Services {
		rows[i] = []cell{{text: s.Name}, {text: s.Node}}
		for _, f := range s.From {
			text := f.Addr + " " + f.Via
			if f.Error != "" {
				text = "-"
				notes = append(notes, fmt.Sprintf("%s from %s: %s", s.Name, f.Node, f.Error))
			}
			rows[i] = append(rows[i], cell{text: text})
		}
	}
	return writeTableNotes(w, p, header, rows, notes)
}

// addressesText lists the addresses of the interfaces that are up, loopback and link-local
// addresses left out: "eth0 10.1.2.2/24 fd00::2/64, wg0 10.42.0.2/16".
func addressesText(ifs []api.Interface) string {
	var parts []string
	for _, i := range ifs {
		addrs := notLinkLocal(i.Addrs)
		if i.Up && !i.Loopback && len(addrs) > 0 {
			parts = append(parts, i.Name+" "+strings.Join(addrs, " "))
		}
	}
	return orDash(strings.Join(parts, ", "))
}

// writeMeshes prints, for every node with a mesh interface, the interface and what its device
// knows of each peer:
//
//	MESH mesh (WireGuard)
//	  a  wg-harness 10.42.0.1/24  port 51820
//	    → c  192.0.2.7:51820  handshake 3s ago  rx 1.2 MB  tx 840 kB
func writeMeshes(w io.Writer, p palette, nodes []api.NetworkNode, now time.Time) {
	var networks []string
	for _, n := range nodes {
		for _, m := range n.Mesh {
			if !slices.Contains(networks, m.Network) {
				networks = append(networks, m.Network)
			}
		}
	}
	for _, nw := range networks {
		fmt.Fprintf(w, "\nMESH %s (WireGuard)\n", nw)
		for _, n := range nodes {
			for _, m := range n.Mesh {
				if m.Network != nw {
					continue
				}
				fmt.Fprintf(w, "  %s  %s %s  port %d\n", n.Name, m.Interface, strings.Join(notLinkLocal(m.Addrs), " "), m.ListenPort)
				if m.Error != "" {
					fmt.Fprintf(w, "    %s\n", p.paint(red, m.Error))
				}
				for _, peer := range m.Peers {
					name := peer.Node
					if name == "" {
						name = "unknown key " + peer.PublicKey
					}
					hs := p.paint(yellow, "no handshake yet")
					if !peer.LastHandshake.IsZero() {
						hs = "handshake " + since(now, peer.LastHandshake)
					}
					fmt.Fprintf(w, "    → %s  %s  %s  rx %s  tx %s\n", name, orDash(peer.Endpoint), hs, byteSize(peer.RxBytes), byteSize(peer.TxBytes))
				}
			}
		}
	}
}

// byteSize is n bytes for people: "840 B", "1.2 kB", "3.4 MB".
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// notLinkLocal are the addresses (CIDR) that are not link-local.
func notLinkLocal(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a); err != nil || !p.Addr().IsLinkLocalUnicast() {
			out = append(out, a)
		}
	}
	return out
}
