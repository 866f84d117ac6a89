package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/api"
)

const deployJSON = `

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "service": S, "node": N, "from": RELEASE, "to": RELEASE,
   "version": V, "plan": [STEP...], "uploaded": BYTES,
   "outcome": "ok"|"planned"|"failed"|"rolled-back"|"unreachable", "error": E}

Exit status 0 when the release is ready, 3 when it failed (rolled back or not), 4
when the node cannot be reached, 2 for a service that is not a package, a package
that does not load, or a version the node does not hold.`

func (a *app) deployCmd() *cobra.Command {
	var req api.DeployRequest
	cmd := &cobra.Command{
		Use:   "deploy SERVICE [--version V] [--dry-run] [--no-rollback]",
		Short: "Deploy a release of a package service to its node, health-gated, with rollback",
		Long: `deploy asks the daemon (started on demand) to deploy the package service SERVICE:
build its package (when package: is a directory), upload it unless the node has
it (same SHA-256), install it as a release under install_path/releases (setup.sh
runs once per release), point install_path/current at it, stop what ran, start
it, and wait until it is healthy (started, without a health check). When it
fails, current goes back to the release before it, which is started again,
unless --no-rollback; the failed release stays on the node.

--version V deploys version V: the package's, or a release the node holds (the
package is then not needed). --dry-run prints the plan and changes nothing.
Progress (upload bytes, install, start) shows on stderr.` + deployJSON,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Service = args[0]
			return a.deploy(cmd.Context(), req)
		},
	}
	cmd.Flags().StringVar(&req.Version, "version", "", "the version to deploy: the package's, or a release the node holds")
	cmd.Flags().BoolVar(&req.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&req.NoRollback, "no-rollback", false, "leave a release that fails to start current")
	return cmd
}

func (a *app) rollbackCmd() *cobra.Command {
	req := api.DeployRequest{Rollback: true}
	cmd := &cobra.Command{
		Use:   "rollback SERVICE [--to VERSION] [--dry-run]",
		Short: "Go back to an earlier release of a package service",
		Long: `rollback deploys a release that the node of the package service SERVICE holds:
VERSION's with --to, else the one that was current before the current one. It is
a deploy of that release (health-gated, rolled forward again if it fails, unless
--no-rollback), without building or uploading anything.` + deployJSON,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Service = args[0]
			return a.deploy(cmd.Context(), req)
		},
	}
	cmd.Flags().StringVar(&req.Version, "to", "", "the version to go back to")
	cmd.Flags().BoolVar(&req.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&req.NoRollback, "no-rollback", false, "leave a release that fails to start current")
	return cmd
}

func (a *app) releasesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "releases SERVICE",
		Short: "List the releases of a package service on its node, and its deploys",
		Long: `releases asks the node of the package service SERVICE which releases it holds
under install_path/releases, the most recently used first:

  RELEASE  VERSION  SHA256  INSTALLED  DEPLOYED  ACTIVE

ACTIVE is "current" for the release current points at, with "running" when the
service runs it. The deploy history (the last 20 deploys and rollbacks, with
their outcome) follows.

With -o json, stdout holds the daemon's answer:
  {"stack": NAME, "service": S, "node": N, "dir": INSTALL_PATH,
   "releases": [{"id": ID, "version": V, "sha256": SUM, "installed": T,
                 "activated": T|null, "active": B, "running": B}],
   "history": [{"at": T, "release": ID, "version": V, "from": ID, "rollback": B,
                "uploaded": BYTES, "outcome": O, "error": E}]}`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeServiceList,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.releases(cmd.Context(), args[0])
		},
	}
}

// deploy asks the daemon to deploy, shows its progress, and prints what it did.
func (a *app) deploy(ctx context.Context, req api.DeployRequest) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	req.Stack = stack
	if !a.json() && !a.quiet && !req.DryRun {
		stop := a.progress(ctx, c, a.stderr)
		defer stop()
	}
	resp, err := c.Deploy(ctx, req)
	if err != nil {
		return err
	}
	if a.json() {
		err = a.writeJSON(resp)
	} else if !a.quiet || resp.Error != "" {
		err = writeDeploy(a.stdout, resp)
	}
	if err != nil {
		return err
	}
	switch resp.Outcome {
	case api.OutcomeOK, api.OutcomePlanned:
		return nil
	case api.OutcomeUnreachable:
		return withCode(ExitUnreachable, nil)
	}
	return withCode(ExitServiceFailed, nil)
}

// writeDeploy prints the plan (a dry run) or what a deploy did.
func writeDeploy(w io.Writer, r api.DeployResponse) error {
	verb := map[string]string{
		api.OutcomeOK: "deployed", api.OutcomePlanned: "would deploy", api.OutcomeFailed: "FAILED to deploy",
		api.OutcomeRolledBack: "FAILED to deploy", api.OutcomeUnreachable: "could not deploy",
	}[r.Outcome]
	fmt.Fprintf(w, "%s %s %s on %s", verb, r.Service, orDash(r.To), r.Node)
	if r.From != "" && r.From != r.To {
		fmt.Fprintf(w, " (was %s)", r.From)
	}
	fmt.Fprintln(w)
	if r.Outcome == api.OutcomePlanned {
		for i, s := range r.Plan {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		return nil
	}
	if r.Outcome != api.OutcomeUnreachable {
		if r.Uploaded > 0 {
			fmt.Fprintf(w, "  uploaded %d bytes\n", r.Uploaded)
		} else if r.To != "" {
			fmt.Fprintln(w, "  uploaded nothing: the node had the package")
		}
	}
	if r.Outcome == api.OutcomeRolledBack {
		fmt.Fprintf(w, "  rolled back: %s is current and runs again\n", r.From)
	}
	if r.Error != "" {
		_, err := fmt.Fprintf(w, "  error: %s\n", r.Error)
		return err
	}
	return nil
}

// releases prints the releases of a package service and its deploys.
func (a *app) releases(ctx context.Context, service string) error {
	stack, c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	resp, err := c.Releases(ctx, api.ReleasesRequest{Stack: stack, Service: service})
	if err != nil {
		return err
	}
	if a.json() {
		return a.writeJSON(resp)
	}
	return writeReleases(a.stdout, a.colors(a.stdout), resp, a.now())
}

var releasesHeader = []string{"RELEASE", "VERSION", "SHA256", "INSTALLED", "DEPLOYED", "ACTIVE"}

// writeReleases prints the releases of resp as a table, then its deploy history.
func writeReleases(w io.Writer, p palette, resp api.ReleasesResponse, now time.Time) error {
	if len(resp.Releases) == 0 {
		fmt.Fprintf(w, "node %s holds no release of %s in %s\n", resp.Node, resp.Service, resp.Dir)
	} else {
		rows := make([][]cell, len(resp.Releases))
		for i, r := range resp.Releases {
			active, color := "-", ""
			if r.Active {
				active, color = "current", green
			}
			if r.Running {
				active += ", running"
			}
			deployed := "-"
			if r.Activated != nil {
				deployed = since(now, *r.Activated)
			}
			rows[i] = []cell{{text: r.ID}, {text: r.Version}, {text: r.SHA256[:min(12, len(r.SHA256))]},
				{text: since(now, r.Installed)}, {text: deployed}, {text: active, color: color}}
		}
		if err := writeTable(w, p, releasesHeader, rows); err != nil {
			return err
		}
	}
	if len(resp.History) > 0 {
		fmt.Fprintln(w, "\ndeploys, oldest first:")
	}
	for _, h := range resp.History {
		verb := "deploy"
		if h.Rollback {
			verb = "rollback"
		}
		line := fmt.Sprintf("  %s  %s %s  %s", h.At.Local().Format(time.DateTime), verb, h.Release, h.Outcome)
		if h.From != "" && h.From != h.Release {
			line += " (from " + h.From + ")"
		}
		if h.Error != "" {
			line += ": " + h.Error
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// since is how long before now t was, for people ("3m ago").
func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return shortDuration(now.Sub(t)) + " ago"
}
