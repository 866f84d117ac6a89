package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/internal/lifecycle"
	"github.com/graph-network-harness/harness/internal/registry"
	"github.com/graph-network-harness/harness/target"
)

// Package services: a package is installed as a release under the service's install_path
// on its node (deploy.Dir), and the release that `current` points at is what runs there,
// supervised by the node's agent like a remote process. Start runs the current release
// (installing the configured package first when the node has none); Deploy changes it.

// Errors of Deploy and Releases.
var (
	// ErrNotPackage is a deploy, rollback or releases of a service that is not a package.
	ErrNotPackage = errors.New("not a package service")
	// ErrNoRelease is a deploy of a version, or a rollback, that the node has no release of.
	ErrNoRelease = errors.New("no such release")
)

// effective is svc as its release runs it: the manifest of the package gives the ports and
// the health check that services.yaml leaves out.
func effective(st *config.Stack, svc *config.Service, m *deploy.Manifest) *config.Service {
	if m == nil {
		return svc
	}
	eff := *svc
	if len(eff.Ports) == 0 {
		for _, p := range m.Service.Ports {
			eff.Ports = append(eff.Ports, config.Port{Target: p, Protocol: "tcp"})
		}
	}
	if eff.HealthCheck == nil && m.Service.HealthCheck != nil {
		hc := *m.Service.HealthCheck
		if hc.HTTP != nil {
			h := *hc.HTTP
			hc.HTTP = &h
		}
		st.CompleteHealthCheck(&hc)
		eff.HealthCheck = &hc
	}
	return &eff
}

// nodeOf returns the deploy side of the node of the package service svc.
func (o *Orchestrator) nodeOf(svc *config.Service) (deploy.Node, error) {
	if svc.Type != config.TypePackage {
		return nil, fmt.Errorf("%s: %w", svc.Name, ErrNotPackage)
	}
	tgt, err := o.target(svc)
	if err != nil {
		return nil, err
	}
	n, ok := tgt.(deploy.Node)
	if !ok {
		return nil, fmt.Errorf("%w: node %s cannot install packages", ErrNoTarget, svc.Host)
	}
	return n, nil
}

// packageSpec prepares the current release of the package service of inst on its node (the
// configured package is installed first when the node has none), writes its environment
// there, and returns what starts it. inst runs that release from now on.
func (o *Orchestrator) packageSpec(ctx context.Context, inst *instance, spec target.Spec) (target.Spec, error) {
	svc := inst.configured()
	node, err := o.nodeOf(svc)
	if err != nil {
		return spec, err
	}
	l, err := node.Releases(ctx, svc.InstallPath)
	if err != nil {
		return spec, err
	}
	cur, ok := l.Current()
	if !ok {
		d := &deployment{o: o, inst: inst, node: node, listing: l}
		if err := d.resolve(ctx, DeployOptions{}); err != nil {
			return spec, err
		}
		if d.pkg != nil { // else a release of the node, of the version the file asks for
			defer d.pkg.Close()
			if err := d.install(ctx); err != nil {
				return spec, err
			}
		}
		if cur, err = node.Activate(ctx, svc.InstallPath, d.to.ID, svc.KeepReleases); err != nil {
			return spec, err
		}
	}
	m, err := deploy.ParseManifest(path.Join(cur.Dir, deploy.ManifestFile), cur.Manifest)
	if err != nil {
		return spec, err
	}
	env, err := o.packageEnv(svc, m, cur)
	if err != nil {
		return spec, err
	}
	rel, err := node.Install(ctx, svc.InstallPath, deploy.InstallRequest{SHA256: cur.SHA256, ID: cur.ID, Env: env})
	if err != nil {
		return spec, err
	}
	inst.setRelease(o.view().stack, toRecord(rel), m)
	args := m.Service.Args
	if len(svc.Args) > 0 {
		args = spec.Argv[1:] // the file's, rendered by spec
	}
	spec.Env, spec.LogPath = env, ""
	spec.Dir = path.Join(rel.Dir, m.Service.WorkingDir)
	spec.Argv = append([]string{path.Join(rel.Dir, m.Service.Executable)}, args...)
	if rel.Has(deploy.StartScript) {
		spec.Argv = []string{path.Join(rel.Dir, deploy.StartScript)}
	}
	return spec, nil
}

// packageEnv is the environment of release rel of the package service svc of manifest m on
// its node: the manifest's environment, under the service's own (env, HARNESS_*, the
// addresses of its dependencies and of the manifest's), and the release's HARNESS_RELEASE,
// HARNESS_VERSION and HARNESS_RELEASE_DIR.
func (o *Orchestrator) packageEnv(svc *config.Service, m *deploy.Manifest, rel deploy.Release) ([]string, error) {
	st := o.view().stack
	resolve := o.resolver(svc)
	env := maps.Clone(m.Environment)
	if env == nil {
		env = map[string]string{}
	}
	for _, dep := range m.Dependencies {
		if st.Service(dep) == nil {
			return nil, fmt.Errorf("package %s %s depends on %q, which is not a service of %s", m.Name, m.Version, dep, st.File)
		}
		prefix := config.EnvPrefix(dep)
		for _, prop := range []string{config.PropHost, config.PropPort, config.PropAddr} {
			v, err := resolve(config.Ref{Service: dep, Property: prop})
			if err != nil {
				return nil, fmt.Errorf("package dependency %s: %w", dep, err)
			}
			env[prefix+"_"+strings.ToUpper(prop)] = v
		}
	}
	own, err := st.Environ(svc, resolve)
	if err != nil {
		return nil, err
	}
	for _, kv := range own {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env["HARNESS_RELEASE"], env["HARNESS_VERSION"], env["HARNESS_RELEASE_DIR"] = rel.ID, rel.Version, rel.Dir
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

// toRecord is rel as the registry keeps it.
func toRecord(rel deploy.Release) *registry.Release {
	return &registry.Release{ID: rel.ID, Version: rel.Version, SHA256: rel.SHA256, Dir: rel.Dir, Scripts: rel.Scripts, Manifest: rel.Manifest}
}

// adoptRelease gives inst the release its record says it runs.
func (o *Orchestrator) adoptRelease(inst *instance, rec registry.Record) {
	if rec.Release == nil {
		return
	}
	m, err := deploy.ParseManifest(path.Join(rec.Release.Dir, deploy.ManifestFile), rec.Release.Manifest)
	if err != nil {
		o.log.Warn("adopt: the manifest of the release", "service", inst.key.Service, "err", err)
		return
	}
	inst.setRelease(o.view().stack, rec.Release, m)
}

// stopScript runs the stop script of the release that h runs, if it has one, where the
// service runs, bounded by its shutdown_timeout; the stop goes on whatever it does.
func (o *Orchestrator) stopScript(ctx context.Context, inst *instance, tgt target.Target, h target.Handle) {
	rel := inst.release()
	ex, ok := tgt.(target.Execer)
	if rel == nil || !ok || !slices.Contains(rel.Scripts, deploy.StopScript) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, inst.service().ShutdownTimeout.Std())
	defer cancel()
	res, err := ex.Exec(ctx, h, []string{path.Join(rel.Dir, deploy.StopScript)})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit status %d: %s", res.ExitCode, strings.TrimSpace(string(res.Output)))
	}
	if err != nil {
		o.log.Warn("stop script", "service", inst.key.Service, "err", err)
	}
}

// DeployOptions say what Deploy deploys, and how.
type DeployOptions struct {
	// Version is the version to deploy: the configured package's, or a release that the node
	// holds. Empty: the service's version, else the configured package.
	Version string
	// Rollback deploys a release the node holds: Version's, else the one before the current.
	Rollback bool
	// DryRun plans and changes nothing.
	DryRun bool
	// NoRollback leaves a release that failed to start running (and current).
	NoRollback bool
}

// DeployResult is what a deploy did.
type DeployResult struct {
	Service string
	Node    string
	// From is the release that ran (was current) before; To, the one deployed.
	From, To string
	Version  string
	// Plan is what the deploy does, in order, one step a line.
	Plan []string
	// Uploaded counts the bytes sent to the node (0: it had the archive).
	Uploaded int64
	// Outcome: "ok", "planned" (dry run), "failed" (From still current, or none), or
	// "rolled-back" (To failed, From runs again).
	Outcome string
}

// DeployError is a deploy that failed: Cause is why, and Result what was done about it.
type DeployError struct {
	Result DeployResult
	Cause  error
}

func (e *DeployError) Error() string {
	if e.Result.Outcome == "rolled-back" {
		return fmt.Sprintf("deploy %s %s failed, rolled back to %s: %v", e.Result.Service, e.Result.To, e.Result.From, e.Cause)
	}
	return fmt.Sprintf("deploy %s %s failed: %v", e.Result.Service, e.Result.To, e.Cause)
}

func (e *DeployError) Unwrap() error { return e.Cause }

// deployment is one deploy of a package service in progress.
type deployment struct {
	o       *Orchestrator
	inst    *instance
	node    deploy.Node
	listing deploy.Listing
	pkg     *deploy.Package // the package to upload and install; nil when the node has To
	to      deploy.Release  // what is deployed (ID, Version, SHA256 set before it is installed)
	res     DeployResult
}

// Deploy deploys a release of the package service: the configured package (built from its
// directory when it is one) or, with opts.Version or opts.Rollback, a release its node holds.
// The package is uploaded unless the node has its archive, installed as a release (setup.sh
// runs once), made current, and started in place of what ran; the deploy waits until it is
// healthy (started, without a check). When it fails, the release before it is made current
// and started again, unless opts.NoRollback; the error is then a *DeployError. Progress is
// in the service's record (its message), and the deploy in its history.
func (o *Orchestrator) Deploy(ctx context.Context, service string, opts DeployOptions) (DeployResult, error) {
	if err := o.Ready(ctx); err != nil {
		return DeployResult{}, err
	}
	inst := o.view().insts[service]
	if inst == nil {
		return DeployResult{}, fmt.Errorf("%w: %q", ErrUnknownService, service)
	}
	svc := inst.configured()
	node, err := o.nodeOf(svc)
	if err != nil {
		return DeployResult{}, err
	}
	inst.op.Lock()
	defer inst.op.Unlock()
	l, err := node.Releases(ctx, svc.InstallPath)
	if err != nil {
		return DeployResult{}, err
	}
	d := &deployment{o: o, inst: inst, node: node, listing: l, res: DeployResult{Service: service, Node: svc.Host, Outcome: "planned"}}
	if cur, ok := l.Current(); ok {
		d.res.From = cur.ID
	}
	if err := d.resolve(ctx, opts); err != nil {
		return d.res, err
	}
	if d.pkg != nil {
		defer d.pkg.Close()
	}
	d.res.To, d.res.Version = d.to.ID, d.to.Version
	d.plan(opts)
	if opts.DryRun {
		return d.res, nil
	}
	err = d.run(ctx, opts)
	o.update(inst, func(r *registry.Record) {
		if err == nil && r.State == lifecycle.Running {
			r.Message = ""
		}
		dep := registry.Deploy{At: time.Now(), Release: d.res.To, Version: d.res.Version, From: d.res.From,
			Rollback: opts.Rollback, Uploaded: d.res.Uploaded, Outcome: d.res.Outcome}
		if err != nil {
			dep.Error = err.Error()
		}
		r.AddDeploy(dep)
	})
	if err != nil {
		return d.res, &DeployError{Result: d.res, Cause: err}
	}
	return d.res, nil
}

// resolve finds what is deployed: a release of the node (rollback, or a version that is
// not the configured package's), else the configured package.
func (d *deployment) resolve(ctx context.Context, opts DeployOptions) error {
	svc := d.inst.configured()
	want := opts.Version
	if want == "" && !opts.Rollback {
		want = svc.Version
	}
	if opts.Rollback {
		for _, r := range d.listing.Releases {
			if !r.Active && (want == "" || r.Version == want) {
				d.to = r
				return nil
			}
		}
		return fmt.Errorf("rollback %s: node %s has no %srelease to go back to (%s): %w", svc.Name, svc.Host, versionText(want), d.held(), ErrNoRelease)
	}
	pkg, err := deploy.Open(ctx, d.o.view().stack.LocalPath(svc.Package))
	if err != nil {
		return err
	}
	if want == "" || pkg.Manifest.Version == want {
		d.pkg = pkg
		d.to = deploy.Release{ID: pkg.ID(), Name: pkg.Manifest.Name, Version: pkg.Manifest.Version, SHA256: pkg.SHA256}
		return nil
	}
	pkg.Close()
	for _, r := range d.listing.Releases {
		if r.Version == want {
			d.to = r
			return nil
		}
	}
	return fmt.Errorf("deploy %s: version %s: the package %s is version %s, and node %s has no release of %s (%s): %w",
		svc.Name, want, svc.Package, pkg.Manifest.Version, svc.Host, want, d.held(), ErrNoRelease)
}

func versionText(v string) string {
	if v == "" {
		return ""
	}
	return v + " "
}

// held names the releases of the node.
func (d *deployment) held() string {
	if len(d.listing.Releases) == 0 {
		return "it has none"
	}
	ids := make([]string, len(d.listing.Releases))
	for i, r := range d.listing.Releases {
		ids[i] = r.ID
	}
	return "it has " + strings.Join(ids, ", ")
}

// plan writes the steps of the deploy into the result.
func (d *deployment) plan(opts DeployOptions) {
	svc := d.inst.configured()
	step := func(format string, args ...any) { d.res.Plan = append(d.res.Plan, fmt.Sprintf(format, args...)) }
	switch {
	case d.pkg == nil:
		step("use release %s, which node %s holds", d.to.ID, svc.Host)
	case d.listing.HasArchive(d.pkg.SHA256):
		step("upload nothing: node %s has %s (sha256:%s)", svc.Host, d.pkg.Manifest.ArchiveName(), d.pkg.SHA256[:12])
	default:
		step("upload %s (%s, sha256:%s) to %s:%s", d.pkg.Manifest.ArchiveName(), bytesText(d.pkg.Size), d.pkg.SHA256[:12], svc.Host, path.Dir(deploy.Dir(svc.InstallPath).ArchivePath(d.pkg.SHA256)))
	}
	if d.pkg != nil && !slices.ContainsFunc(d.listing.Releases, func(r deploy.Release) bool { return r.ID == d.to.ID }) {
		step("install release %s in %s/releases (setup.sh, if the package has one, runs once)", d.to.ID, svc.InstallPath)
	}
	step("write %s and render config/ with the addresses of now", deploy.EnvFile)
	if d.res.From != "" && d.res.From != d.to.ID {
		step("switch current from %s to %s", d.res.From, d.to.ID)
	} else if d.res.From == "" {
		step("point current at %s", d.to.ID)
	}
	rec := d.inst.record()
	if rec.State.Active() {
		step("stop %s (%s), then start %s", svc.Name, rec.Handle.ID, d.to.ID)
	} else {
		step("start %s", d.to.ID)
	}
	step("wait until %s is %s", svc.Name, readiness(d.inst))
	if d.res.From != "" && d.res.From != d.to.ID && !opts.NoRollback {
		step("on failure: switch current back to %s and start it again", d.res.From)
	}
}

// readiness is the condition a deploy waits for.
func readiness(inst *instance) config.Condition {
	if inst.healthChecked() {
		return config.ConditionHealthy
	}
	return config.ConditionStarted
}

// bytesText writes a size for people.
func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// progress shows a step of the deploy in the service's record.
func (d *deployment) progress(format string, args ...any) {
	msg := fmt.Sprintf("deploy %s: ", d.to.ID) + fmt.Sprintf(format, args...)
	d.o.update(d.inst, func(r *registry.Record) { r.Message = msg })
}

// install uploads the package unless the node has it, and installs its release.
func (d *deployment) install(ctx context.Context) error {
	svc := d.inst.configured()
	if !d.listing.HasArchive(d.pkg.SHA256) {
		f, err := os.Open(d.pkg.File)
		if err != nil {
			return err
		}
		defer f.Close()
		d.progress("uploading %s", bytesText(d.pkg.Size))
		body := &progressReader{r: f, total: d.pkg.Size, report: func(n int64) {
			d.progress("uploaded %s of %s", bytesText(n), bytesText(d.pkg.Size))
		}}
		n, err := d.node.Upload(ctx, svc.InstallPath, d.pkg.SHA256, body)
		d.res.Uploaded = n
		if err != nil {
			return fmt.Errorf("upload to %s: %w", svc.Host, err)
		}
	}
	d.progress("installing")
	env, err := d.o.packageEnv(svc, d.pkg.Manifest, d.to)
	if err != nil {
		return err
	}
	rel, err := d.node.Install(ctx, svc.InstallPath, deploy.InstallRequest{SHA256: d.pkg.SHA256, Env: env})
	if err != nil {
		return err
	}
	d.to = rel
	return nil
}

// run does the deploy, and rolls back when it fails.
func (d *deployment) run(ctx context.Context, opts DeployOptions) error {
	if d.pkg != nil {
		if err := d.install(ctx); err != nil {
			d.res.Outcome = "failed" // nothing changed
			return err
		}
	}
	// From here on the deploy finishes, rollback included, even if its caller goes away: a
	// switch cut in the middle would leave the service stopped.
	ctx = context.WithoutCancel(ctx)
	err := d.switchTo(ctx, d.to.ID)
	if err == nil {
		d.res.Outcome = "ok"
		return nil
	}
	d.res.Outcome = "failed"
	if opts.NoRollback || d.res.From == "" || d.res.From == d.to.ID {
		return err
	}
	if rerr := d.switchTo(ctx, d.res.From); rerr != nil {
		return fmt.Errorf("%w; the rollback to %s failed too: %w", err, d.res.From, rerr)
	}
	d.res.Outcome = "rolled-back"
	return err
}

// switchTo stops what runs, makes the release id current, starts it, and waits until it is
// ready. The caller holds inst.op.
func (d *deployment) switchTo(ctx context.Context, id string) error {
	svc := d.inst.configured()
	if err := d.o.stopLocked(ctx, d.inst, "deploy "+id); err != nil {
		return err
	}
	if _, err := d.node.Activate(ctx, svc.InstallPath, id, svc.KeepReleases); err != nil {
		return err
	}
	d.inst.mu.Lock()
	d.inst.wanted, d.inst.streak = true, 0
	d.inst.mu.Unlock()
	if err := d.o.launch(ctx, d.inst, 0); err != nil {
		return err
	}
	d.progress("waiting until %s", readiness(d.inst))
	return d.o.awaitReady(ctx, d.inst, readiness(d.inst))
}

// Releases lists the releases of the package service on its node.
func (o *Orchestrator) Releases(ctx context.Context, service string) (deploy.Listing, registry.Record, error) {
	inst := o.view().insts[service]
	if inst == nil {
		return deploy.Listing{}, registry.Record{}, fmt.Errorf("%w: %q", ErrUnknownService, service)
	}
	node, err := o.nodeOf(inst.configured())
	if err != nil {
		return deploy.Listing{}, registry.Record{}, err
	}
	l, err := node.Releases(ctx, inst.configured().InstallPath)
	return l, inst.record(), err
}

// progressReader reports, about every 5% of total, the bytes read through it.
type progressReader struct {
	r          io.Reader
	total, n   int64
	reportedAt int64
	report     func(n int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.reportedAt >= max(p.total/20, 1<<20) || (err == io.EOF && p.n > p.reportedAt) {
		p.reportedAt = p.n
		p.report(p.n)
	}
	return n, err
}
