package daemon

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/internal/target/process"
	"github.com/graph-network-harness/harness/target"
)

// Status implements httpapi.Backend: one row per configured service, in file order.
func (d *daemon) Status(ctx context.Context, req api.StatusRequest) (api.Status, error) {
	orch, err := d.stack(ctx, req.Stack, false)
	if err != nil {
		return api.Status{}, err
	}
	stack := orch.Stack()
	if err := checkNames(stack, req.Services); err != nil {
		return api.Status{}, err
	}
	want := map[string]bool{}
	for _, n := range req.Services {
		want[n] = true
	}
	out := api.Status{Stack: stack.Name, Services: []api.ServiceStatus{}}
	for _, rec := range orch.Status() {
		if len(want) > 0 && !want[rec.Key.Service] {
			continue
		}
		svc := stack.Service(rec.Key.Service)
		r := row(stack, svc, rec)
		if err := d.nodeErr(stack, svc); err != nil {
			r.Unreachable = err.Error()
		}
		out.Services = append(out.Services, r)
	}
	return out, nil
}

// nodeErr is why the remote node of svc did not answer its last ping; nil when it did, or
// for a local service.
func (d *daemon) nodeErr(stack *config.Stack, svc *config.Service) error {
	nd := stack.Node(svc.Host)
	if svc.Host == "" || nd == nil {
		return nil
	}
	return d.remotesOf(stack).Err(nd)
}

// row is the status of one service from its definition and its record.
func row(stack *config.Stack, svc *config.Service, rec registry.Record) api.ServiceStatus {
	s := api.ServiceStatus{
		Name:     svc.Name,
		Type:     string(svc.Type),
		Node:     stack.NodeName(svc),
		State:    string(rec.State),
		Health:   string(rec.Health),
		Ports:    []int{},
		Restarts: rec.Restarts,
		Version:  svc.Version,
		Message:  rec.Message,
	}
	if rec.Release != nil {
		s.Version = rec.Release.Version // the release it runs, or ran last
	}
	if len(rec.Endpoints) > 0 {
		// The first network's address and ports: a container's on the bridge, which its
		// ${svc.addr} names too, not its published ports.
		first := rec.Endpoints[0]
		s.IP = first.IP
		for _, e := range rec.Endpoints {
			if e.Network == first.Network && e.IP == first.IP && e.Port > 0 {
				s.Ports = append(s.Ports, e.Port)
			}
		}
	} else {
		for _, p := range svc.Ports {
			s.Ports = append(s.Ports, p.HostPort())
		}
		if s.Node == "local" {
			s.IP = "127.0.0.1"
		}
	}
	if rec.State.Active() {
		if s.PID = pidOf(rec.Handle); s.PID == 0 {
			s.ContainerID = rec.Handle.ID
		}
		if !rec.StartedAt.IsZero() {
			at := rec.StartedAt.UTC().Truncate(time.Second)
			s.StartedAt = &at
		}
	}
	if rec.LastExit != nil && (rec.State == lifecycle.Exited || rec.State == lifecycle.Failed) && rec.LastExit.Code >= 0 {
		code := rec.LastExit.Code
		s.ExitCode = &code
	}
	return s
}

// pidOf is the PID of a process handle ("PID:STARTTIME"), 0 for any other.
func pidOf(h target.Handle) int {
	if h.Target != process.TargetName {
		return 0
	}
	pid, _, _ := strings.Cut(h.ID, ":")
	n, _ := strconv.Atoi(pid)
	return n
}
