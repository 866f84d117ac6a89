package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/orchestrator"
	"github.com/graph-network-harness/harness/target"
)

// stackRun is one stack the daemon supervises.
type stackRun struct {
	orch *orchestrator.Orchestrator
}

// load reads the services file of req with the caller's environment. A file that does not
// load is CodeInvalidConfig, with every problem as FILE:LINE:COL.
func load(req api.Stack) (*config.Stack, error) {
	if req.Config == "" || !filepath.IsAbs(req.Config) {
		return nil, &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("config %q: want the absolute path of a services file", req.Config)}
	}
	stack, err := config.Load(req.Config, config.Options{Lookup: config.EnvironLookup(req.Environ)})
	var cerr *config.Error
	switch {
	case errors.As(err, &cerr):
		return nil, &api.Error{Code: api.CodeInvalidConfig, Message: err.Error()}
	case err != nil:
		return nil, &api.Error{Code: api.CodeBadRequest, Message: err.Error()}
	}
	return stack, nil
}

// stack returns the orchestrator of the stack of req. A stack the daemon does not run yet is
// loaded and supervised from now on: its orchestrator first adopts what the registry records.
// With reload, a stack already run is loaded again from its file and updated, with the
// caller's environment (a start: ${VAR} and the processes' environments follow the shell).
func (d *daemon) stack(ctx context.Context, req api.Stack, reload bool) (*orchestrator.Orchestrator, error) {
	if !reload {
		if orch := d.known(req.Config); orch != nil {
			return orch, orch.Ready(ctx)
		}
	}
	stack, err := load(req)
	if err != nil {
		return nil, err
	}
	stamp, _ := stampOf(req.Config)
	d.mu.Lock()
	stamp.name = stack.Name
	d.files[req.Config] = stamp
	run := d.stacks[stack.Name]
	if run == nil {
		if err := d.runCtx.Err(); err != nil {
			d.mu.Unlock()
			return nil, &api.Error{Code: api.CodeUnavailable, Message: "the daemon is stopping"}
		}
		orch, err := orchestrator.New(orchestrator.Options{
			Stack: stack, Registry: d.reg, Targets: d.targets, Environ: req.Environ,
			LogDir: filepath.Join(d.opts.DataDir, "logs"), Logger: d.log.With("stack", stack.Name),
			Observer: d.metrics, Nodes: d.remotesLocked(stack.Settings.KnownHosts).Targets,
			Mesh: d.localMesh(),
		})
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		run = &stackRun{orch: orch}
		d.stacks[stack.Name] = run
		reload = true // remembered below, for the next daemon
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := orch.Run(d.runCtx); err != nil {
				d.log.Error("supervision", "stack", stack.Name, "err", err)
			}
		}()
	} else if reload {
		if err := run.orch.Update(stack, req.Environ); err != nil {
			d.mu.Unlock()
			return nil, &api.Error{Code: api.CodeConflict, Message: err.Error()}
		}
	}
	d.mu.Unlock()
	if reload {
		if err := d.remember(stack.Name, req); err != nil {
			d.log.Warn("remember the stack for the next daemon", "stack", stack.Name, "err", err)
		}
	}
	if err := run.orch.Ready(ctx); err != nil {
		return nil, err
	}
	return run.orch, nil
}

// stacksDir holds, per stack the daemon supervises, its services file and the environment it
// was loaded with (DATA/stacks/NAME.json, 0600: the environment may hold secrets), so that the
// next daemon resumes supervising it at once.
const stacksDir = "stacks"

// remember records the stack of req under name for the next daemon.
func (d *daemon) remember(name string, req api.Stack) error {
	dir := filepath.Join(d.opts.DataDir, stacksDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, name+".json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name+".json"))
}

// resume supervises again every stack an earlier daemon supervised: its orchestrator adopts
// what runs, and resumes probes and restart policies. A stack whose file no longer loads is
// reported and left alone (its services keep running unsupervised until a request loads it).
func (d *daemon) resume(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(d.opts.DataDir, stacksDir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		var req api.Stack
		if err == nil {
			err = json.Unmarshal(b, &req)
		}
		if err == nil {
			_, err = d.stack(ctx, req, false)
		}
		if err != nil {
			d.log.Error("resume supervision", "stack", strings.TrimSuffix(filepath.Base(f), ".json"), "err", err)
		}
	}
}

// fileStamp is what a services file was when the daemon last loaded it, and its stack.
type fileStamp struct {
	size int64
	mod  time.Time
	name string
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime()}, nil
}

// known returns the orchestrator of the stack of the services file at path when the daemon
// runs it and the file has not changed since it was loaded: a status, a stop or a logs need
// the stack's name only, and parsing a file of a thousand services costs more than the rest
// of a status.
func (d *daemon) known(path string) *orchestrator.Orchestrator {
	now, err := stampOf(path)
	if err != nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	was, ok := d.files[path]
	if !ok || was.size != now.size || !was.mod.Equal(now.mod) || d.stacks[was.name] == nil {
		return nil
	}
	return d.stacks[was.name].orch
}

// checkNames reports the first name that is not a service of stack as CodeNotFound.
func checkNames(stack *config.Stack, names []string) error {
	for _, n := range names {
		if stack.Service(n) == nil {
			return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("%s: no service %q in %s", stack.Name, n, stack.File)}
		}
	}
	return nil
}

// Start implements httpapi.Backend.
func (d *daemon) Start(ctx context.Context, req api.StartRequest) (api.StartResponse, error) {
	if req.NoWait {
		return api.StartResponse{}, &api.Error{Code: api.CodeBadRequest, Message: "start without waiting is not supported yet"}
	}
	orch, err := d.stack(ctx, req.Stack, true)
	if err != nil {
		return api.StartResponse{}, err
	}
	if err := checkNames(orch.Stack(), req.Services); err != nil {
		return api.StartResponse{}, err
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout))
		defer cancel()
	}
	res, err := orch.Start(ctx, req.Services...)
	out := api.StartResponse{Stack: orch.Stack().Name, Services: results(res)}
	if res.Plan.Actions == nil && err != nil {
		return out, err // no plan: the request itself failed
	}
	if ctx.Err() != nil { // the request's timeout: what was not ready by then timed out
		ready := map[string]bool{}
		for _, rec := range orch.Status() {
			ready[rec.Key.Service] = rec.State == lifecycle.Running && rec.Health != lifecycle.HealthStarting && rec.Health != lifecycle.HealthUnhealthy
		}
		for i, r := range out.Services {
			if r.Outcome == api.OutcomeOK && !ready[r.Name] {
				out.Services[i].Outcome, out.Services[i].Error = api.OutcomeTimeout, fmt.Sprintf("not ready within %s", time.Duration(req.Timeout))
			}
		}
	}
	return out, nil
}

// Stop implements httpapi.Backend.
func (d *daemon) Stop(ctx context.Context, req api.StopRequest) (api.StopResponse, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.StopResponse{}, err
	}
	if err := checkNames(orch.Stack(), req.Services); err != nil {
		return api.StopResponse{}, err
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout))
		defer cancel()
	}
	var res orchestrator.Result
	switch {
	case req.Down && len(req.Services) > 0:
		return api.StopResponse{}, &api.Error{Code: api.CodeBadRequest, Message: "down takes no services"}
	case req.Down:
		res, err = orch.Down(ctx, req.Volumes)
	default:
		res, err = orch.Stop(ctx, req.Services...)
	}
	out := api.StopResponse{Stack: orch.Stack().Name, Services: results(res)}
	if res.Plan.Actions == nil && err != nil {
		return out, err
	}
	return out, nil
}

// results turns what the orchestrator did into one ServiceResult per planned service.
func results(res orchestrator.Result) []api.ServiceResult {
	out := make([]api.ServiceResult, 0, len(res.Plan.Actions))
	for _, a := range res.Plan.Actions {
		r := api.ServiceResult{Name: a.Service, Action: string(a.Verb), Outcome: api.OutcomeOK}
		var timeout *orchestrator.TimeoutError
		if err, ok := res.Failed[a.Service]; ok {
			r.Outcome, r.Error = api.OutcomeFailed, err.Error()
			switch {
			case errors.Is(err, target.ErrUnreachable):
				r.Outcome = api.OutcomeUnreachable
			case errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded):
				r.Outcome = api.OutcomeTimeout
			}
		} else if dep, ok := res.Blocked[a.Service]; ok {
			r.Outcome, r.BlockedBy = api.OutcomeBlocked, dep
		}
		out = append(out, r)
	}
	return out
}
