package daemon

import (
	"context"
	"errors"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/target"
)

// Deploy implements httpapi.Backend.
func (d *daemon) Deploy(ctx context.Context, req api.DeployRequest) (api.DeployResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.DeployResponse{}, err
	}
	if err := checkNames(orch.Stack(), []string{req.Service}); err != nil {
		return api.DeployResponse{}, err
	}
	res, err := orch.Deploy(ctx, req.Service, orchestrator.DeployOptions{
		Version: req.Version, Rollback: req.Rollback, DryRun: req.DryRun, NoRollback: req.NoRollback,
	})
	out := api.DeployResponse{
		Stack: orch.Stack().Name, Service: req.Service, Node: res.Node, From: res.From, To: res.To,
		Version: res.Version, Plan: res.Plan, Uploaded: res.Uploaded, Outcome: res.Outcome,
	}
	if out.Plan == nil {
		out.Plan = []string{}
	}
	var deployErr *orchestrator.DeployError
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, target.ErrUnreachable):
		out.Outcome, out.Error = api.OutcomeUnreachable, err.Error()
		return out, nil
	case errors.As(err, &deployErr):
		out.Error = err.Error()
		return out, nil
	}
	return out, requestError(err)
}

// Releases implements httpapi.Backend.
func (d *daemon) Releases(ctx context.Context, req api.ReleasesRequest) (api.ReleasesResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.ReleasesResponse{}, err
	}
	if err := checkNames(orch.Stack(), []string{req.Service}); err != nil {
		return api.ReleasesResponse{}, err
	}
	l, rec, err := orch.Releases(ctx, req.Service)
	if err != nil {
		return api.ReleasesResponse{}, requestError(err)
	}
	svc := orch.Stack().Service(req.Service)
	out := api.ReleasesResponse{Stack: orch.Stack().Name, Service: req.Service, Node: svc.Host, Dir: svc.InstallPath,
		Releases: make([]api.Release, 0, len(l.Releases)), History: make([]api.Deploy, 0, len(rec.Deploys))}
	for _, r := range l.Releases {
		row := api.Release{ID: r.ID, Version: r.Version, SHA256: r.SHA256, Installed: r.Installed, Active: r.Active,
			Running: rec.State.Active() && rec.Release != nil && rec.Release.ID == r.ID}
		if !r.Activated.IsZero() {
			row.Activated = &r.Activated
		}
		out.Releases = append(out.Releases, row)
	}
	for _, h := range rec.Deploys {
		out.History = append(out.History, api.Deploy(h))
	}
	return out, nil
}

// requestError makes the errors of a request that cannot be served as asked bad requests:
// a service that is not a package, a package that does not load, a release that is not
// there, a spec the target refuses.
func requestError(err error) error {
	var cfgErr *config.Error
	switch {
	case errors.Is(err, orchestrator.ErrNotPackage), errors.Is(err, orchestrator.ErrNoRelease),
		errors.As(err, &cfgErr), errors.Is(err, target.ErrInvalidSpec):
		return &api.Error{Code: api.CodeBadRequest, Message: err.Error()}
	}
	return err
}
