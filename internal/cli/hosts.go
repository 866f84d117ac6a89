package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

func (a *app) hostsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "The remote nodes: reachability, agents, host keys",
		Long: `hosts shows the remote nodes of the services file (networks.*.nodes) as the daemon
reaches them over SSH, and records their host keys.`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	const table = `

  NAME  ADDRESS  NETWORK  REACHABLE  RTT  OS  AGENT

ADDRESS is user@host:port; RTT the round trip of an SSH request; OS the node's
uname -sm; AGENT the version and PID of the harness agent that runs there ("old"
when it is not this harness's binary: the next use replaces it), "-" when none
runs. Why a node is unreachable follows the table. Nothing is installed or
started on the nodes.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "hosts": [{"name": N, "host": H, "port": P, "user": U,
   "network": NET, "reachable": B, "error": E, "rtt": D, "os": OS,
   "agent": {"version": V, "pid": PID, "started": T, "current": B}}]}`
	list := &cobra.Command{
		Use:   "list [NODE...]",
		Short: "Contact the nodes and show what they answered",
		Long: `list asks the daemon (started on demand) to contact the named nodes, all when
none is named, at once, and prints one row per node, in file order:` + table + `

Exit status 0 whatever the nodes answered (see check).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := a.hosts(cmd.Context(), args)
			return err
		},
	}
	check := &cobra.Command{
		Use:   "check [NODE...]",
		Short: "As list, and exit 4 unless every node is reachable",
		Long: `check is list, for scripts: the same table, then exit status 4 when a node is
unreachable (its host key unknown or changed, its login refused, no answer).` + table,
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := a.hosts(cmd.Context(), args)
			if err != nil {
				return err
			}
			for _, h := range resp.Hosts {
				if !h.Reachable {
					return withCode(ExitUnreachable, nil)
				}
			}
			return nil
		},
	}
	var yes bool
	trust := &cobra.Command{
		Use:   "trust NODE [--yes]",
		Short: "Show the host key a node offers, and record it in known_hosts",
		Long: `trust connects to NODE's sshd, shows the host key it offers and its fingerprint,
and asks whether to record it in the known_hosts file of the services file
(settings.known_hosts, default ~/.ssh/known_hosts). Compare the fingerprint with
the one the host shows (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before
you answer. --yes records it without asking, as it must when stdin is not a
terminal. A node whose recorded key changed is refused: remove the old key on
purpose first (ssh-keygen -R HOST).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.trust(cmd.Context(), args[0], yes) },
	}
	trust.Flags().BoolVarP(&yes, "yes", "y", false, "record the key without asking")
	cmd.AddCommand(list, check, trust)
	return cmd
}

// hosts asks the daemon to contact the nodes and prints what they answered.
func (a *app) hosts(ctx context.Context, names []string) (api.HostsResponse, error) {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return api.HostsResponse{}, err
	}
	resp, err := c.Hosts(ctx, api.HostsRequest{Stack: stack, Nodes: names})
	if err != nil {
		return resp, err
	}
	if a.json() {
		return resp, a.writeJSON(resp)
	}
	return resp, writeHosts(a.stdout, a.colors(a.stdout), resp)
}

var hostsHeader = []string{"NAME", "ADDRESS", "NETWORK", "REACHABLE", "RTT", "OS", "AGENT"}

// writeHosts prints resp as a table, then why each unreachable node is.
func writeHosts(w io.Writer, p palette, resp api.HostsResponse) error {
	if len(resp.Hosts) == 0 {
		_, err := fmt.Fprintln(w, "no remote node in the services file")
		return err
	}
	rows := make([][]cell, len(resp.Hosts))
	var notes []string
	for i, h := range resp.Hosts {
		reach, color, rtt := "yes", green, shortLatency(time.Duration(h.RTT))
		if !h.Reachable {
			reach, color, rtt = "no", red, "-"
			notes = append(notes, h.Name+": "+h.Error)
		}
		rows[i] = []cell{
			{text: h.Name},
			{text: fmt.Sprintf("%s@%s:%d", h.User, h.Host, h.Port)},
			{text: orDash(h.Network)},
			{text: reach, color: color},
			{text: rtt},
			{text: orDash(h.OS)},
			{text: agentText(h.Agent)},
		}
	}
	return writeTableNotes(w, p, hostsHeader, rows, notes)
}

// agentText is "VERSION (pid PID)", with "old" when the agent is not this daemon's binary.
func agentText(ag *api.HostAgent) string {
	if ag == nil {
		return "-"
	}
	s := fmt.Sprintf("%s (pid %d)", ag.Version, ag.PID)
	if !ag.Current {
		s += " old"
	}
	return s
}

// trust shows the key node offers and records it once the user confirmed its fingerprint.
func (a *app) trust(ctx context.Context, node string, yes bool) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	offer, err := c.Trust(ctx, api.TrustRequest{Stack: stack, Node: node})
	if err != nil {
		return err
	}
	msg := a.stdout
	if a.json() {
		msg = a.stderr
	}
	fmt.Fprintf(msg, "%s (%s) offers the %s key %s\n", offer.Node, offer.Host, offer.KeyType, offer.Fingerprint)
	if !yes {
		if !isTerminal(a.stdin) {
			return &usageError{errors.New("hosts trust: stdin is not a terminal: check the fingerprint, then run again with --yes")}
		}
		fmt.Fprintf(msg, "Record it in %s? [y/N] ", offer.File)
		answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("hosts trust: not recorded")
		}
	}
	rec, err := c.Trust(ctx, api.TrustRequest{Stack: stack, Node: node, Fingerprint: offer.Fingerprint})
	if err != nil {
		return err
	}
	if a.json() {
		return a.writeJSON(rec)
	}
	_, err = fmt.Fprintf(msg, "recorded in %s\n", rec.File)
	return err
}
