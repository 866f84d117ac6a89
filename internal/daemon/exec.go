package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/target"
)

// maxExecOutput bounds the output an exec answers with.
const maxExecOutput = 1 << 20

// Exec implements httpapi.Backend: the command runs where the service runs.
func (d *daemon) Exec(ctx context.Context, req api.ExecRequest) (api.ExecResponse, error) {
	if len(req.Command) == 0 {
		return api.ExecResponse{}, &api.Error{Code: api.CodeBadRequest, Message: "exec: no command"}
	}
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.ExecResponse{}, err
	}
	if err := checkNames(orch.Stack(), []string{req.Service}); err != nil {
		return api.ExecResponse{}, err
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout))
		defer cancel()
	}
	res, err := orch.Exec(ctx, req.Service, req.Command)
	switch {
	case errors.Is(err, orchestrator.ErrServiceNotRunning):
		return api.ExecResponse{}, &api.Error{Code: api.CodeConflict, Message: err.Error()}
	case errors.Is(err, target.ErrUnsupported), errors.Is(err, target.ErrInvalidSpec):
		return api.ExecResponse{}, &api.Error{Code: api.CodeBadRequest, Message: err.Error()}
	case err != nil:
		return api.ExecResponse{}, err
	}
	out := api.ExecResponse{ExitCode: res.ExitCode, Output: string(res.Output)}
	if len(out.Output) > maxExecOutput {
		out.Output, out.Truncated = out.Output[:maxExecOutput], true
	}
	return out, nil
}

// Health implements httpapi.Backend: every check asked about runs once, now, all at once.
func (d *daemon) Health(ctx context.Context, req api.HealthRequest) (api.HealthResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.HealthResponse{}, err
	}
	stack := orch.Stack()
	if err := checkNames(stack, req.Services); err != nil {
		return api.HealthResponse{}, err
	}
	want := map[string]bool{}
	for _, n := range req.Services {
		want[n] = true
	}
	// Room for every service: the checks write into their rows while rows are added.
	out := api.HealthResponse{Stack: stack.Name, Services: make([]api.HealthResult, 0, len(stack.Services))}
	var wg sync.WaitGroup
	for _, svc := range stack.Services {
		if len(want) > 0 && !want[svc.Name] {
			continue
		}
		svc := orch.Service(svc.Name) // a package's check may come from its manifest
		out.Services = append(out.Services, api.HealthResult{Name: svc.Name, Status: "none"})
		if svc.HealthCheck == nil {
			continue
		}
		r := &out.Services[len(out.Services)-1]
		r.Kind = string(svc.HealthCheck.Kind())
		wg.Go(func() {
			latency, err := orch.Check(ctx, svc.Name)
			r.Latency, r.Status = api.Duration(latency), "healthy"
			if err != nil {
				r.Status, r.Error = "unhealthy", fmt.Sprint(err)
			}
		})
	}
	wg.Wait()
	return out, nil
}
