//go:build integration

package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/graph-network-harness/harness/api"
	"github.com/graph-network-harness/harness/internal/testenv"
)

// deployServices: a package service edge on host a that depends on db, a testserver on host
// b; edge's package is the directory edge/ of the stack, written by writePackage.
const deployServices = `
  db:
    type: remote
    host: b
    binary: /root/testserver
    args: ["-listen", ":18081"]
    ports: [18081]
    health_check: {tcp: 18081, interval: 1s}
  edge:
    type: package
    host: a
    package: ./edge
    install_path: /root/apps/edge
    dependencies: [db]
`

// writePackage writes the package directory edge/ of hs: version, a testserver that listens
// on 18090, and a health check on checkPort. Its setup.sh counts its runs in
// /root/setup-runs; config/edge.conf is a template of db's address.
func writePackage(t *testing.T, hs *hostsStack, version string, checkPort int) {
	t.Helper()
	dir := filepath.Join(hs.dir, "edge")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"manifest.yaml": fmt.Sprintf(`name: edge
version: %s
service:
  executable: bin/edge
  args: ["-listen", ":18090"]
  ports: [18090]
  health_check: {http: "http://127.0.0.1:%d/health", interval: 1s, retries: 2, start_interval: 200ms}
dependencies: [db]
environment: {EDGE_MODE: production}
requires: {commands: [sh]}
`, version, checkPort),
		"scripts/setup.sh":  "#!/bin/sh\necho \"$HARNESS_RELEASE $PWD\" >> /root/setup-runs\n",
		"config/edge.conf":  "db = ${DB_ADDR}\nmode = ${EDGE_MODE}\nliteral = $${NOT_A_VAR} $HOME\n",
		"share/version.txt": version + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, hs.server, filepath.Join(dir, "bin", "edge"))
}

// deploy runs `harness deploy ARGS -o json` and wants exit code.
func (hs *hostsStack) deploy(t *testing.T, code int, args ...string) api.DeployResponse {
	t.Helper()
	r := hs.must(code, append(append([]string{}, args...), "-o", "json")...)
	var resp api.DeployResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("%s -o json: %v\n%s", strings.Join(args, " "), err, r)
	}
	t.Logf("%s: outcome %s, %s → %s, uploaded %d, error %q", strings.Join(args, " "), resp.Outcome, resp.From, resp.To, resp.Uploaded, resp.Error)
	return resp
}

// current is the release that install_path/current points at on h.
func current(t *testing.T, h *testenv.Host) string {
	t.Helper()
	link, err := os.Readlink(h.Path("/root/apps/edge/current"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(link, "releases/")
}

// runningFrom checks that edge runs on host a from the release id's directory, and answers.
func runningFrom(t *testing.T, hs *hostsStack, id string) {
	t.Helper()
	edge := hs.status()["edge"]
	if edge.State != "running" || edge.Health != "healthy" || !slices.Contains(hs.hosts["a"].Pids(t), edge.PID) {
		t.Fatalf("edge: %+v; want running and healthy on a (pids %v)", edge, hs.hosts["a"].Pids(t))
	}
	if version, _, _ := strings.Cut(id, "-"); edge.Version != version {
		t.Errorf("status: edge version %q, want %q", edge.Version, version)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", edge.PID))
	if want := "/root/apps/edge/releases/" + id + "/bin/edge"; err != nil || !strings.HasSuffix(exe, "/releases/"+id+"/bin/edge") {
		t.Errorf("edge runs %q (%v), want %s", exe, err, want)
	}
	if cur := current(t, hs.hosts["a"]); cur != id {
		t.Errorf("current -> %s, want %s", cur, id)
	}
	if out := hs.must(0, "exec", "edge", "--", "cat", "share/version.txt").stdout; !strings.HasPrefix(id, strings.TrimSpace(out)+"-") {
		t.Errorf("edge's working directory holds version %q, want the release %s", out, id)
	}
}

// A package deployed to host a runs from its release, with the address of its dependency on
// host b in its env file and its config; a second deploy of it uploads nothing; a release
// whose check fails is rolled back; rollback and releases work; a bad package is refused
// before anything is uploaded.
func TestDeploy(t *testing.T) {
	hs := newHostsStack(t, []string{"a", "b"}, deployServices)
	a := hs.hosts["a"]
	writePackage(t, hs, "1.0.0", 18090)

	// start deploys the package: the node has no release of it.
	hs.must(0, "start")
	v1 := current(t, a)
	if !strings.HasPrefix(v1, "1.0.0-") {
		t.Fatalf("current -> %s, want a release of 1.0.0", v1)
	}
	runningFrom(t, hs, v1)
	// Its check, from the manifest, runs on a; status shows the version it runs.
	if out := hs.must(0, "health", "edge").stdout; !strings.Contains(out, "healthy") {
		t.Errorf("health edge:\n%s", out)
	}
	if out := hs.must(0, "status").stdout; !strings.Contains(out, "VERSION") || !strings.Contains(out, " 1.0.0 ") {
		t.Errorf("status shows no version:\n%s", out)
	}
	rel := a.Path("/root/apps/edge/releases/" + v1)
	dbAddr := hs.hosts["b"].Addr.String() + ":18081"
	env, err := os.ReadFile(filepath.Join(rel, "harness.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"DB_ADDR='" + dbAddr + "'", "DB_HOST='" + hs.hosts["b"].Addr.String() + "'", "DB_PORT='18081'", "EDGE_MODE='production'", "HARNESS_RELEASE='" + v1 + "'"} {
		if !strings.Contains(string(env), line+"\n") {
			t.Errorf("harness.env lacks %s:\n%s", line, env)
		}
	}
	if info, err := os.Stat(filepath.Join(rel, "harness.env")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("harness.env: %v, mode %v; want 0600", err, info.Mode())
	}
	conf, err := os.ReadFile(filepath.Join(rel, "config/edge.conf"))
	if want := "db = " + dbAddr + "\nmode = production\nliteral = ${NOT_A_VAR} $HOME\n"; err != nil || string(conf) != want {
		t.Errorf("config/edge.conf = %q (%v), want %q", conf, err, want)
	}
	// The service itself has the environment: it reaches db at that address.
	if out := hs.must(0, "exec", "edge", "--", "sh", "-c", `echo "$DB_ADDR"`).stdout; strings.TrimSpace(out) != dbAddr {
		t.Errorf("edge's DB_ADDR = %q, want %s", out, dbAddr)
	}

	// The same version again: nothing is uploaded, the archive on the node is untouched.
	archives, _ := filepath.Glob(a.Path("/root/apps/edge/archives/*.tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("archives on a: %v, want 1", archives)
	}
	before, _ := os.Stat(archives[0])
	again := hs.deploy(t, 0, "deploy", "edge")
	if again.Uploaded != 0 || again.To != v1 || again.Outcome != api.OutcomeOK {
		t.Errorf("deploy of the same version: %+v; want ok, %s, nothing uploaded", again, v1)
	}
	if after, err := os.Stat(archives[0]); err != nil || after.Sys().(*syscall.Stat_t).Ino != before.Sys().(*syscall.Stat_t).Ino || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the archive on a was written again: %v", err)
	}
	runningFrom(t, hs, v1)

	// --dry-run plans and changes nothing.
	writePackage(t, hs, "2.0.0", 18099) // its check asks a port nobody listens on
	plan := hs.deploy(t, 0, "deploy", "edge", "--dry-run")
	if plan.Outcome != api.OutcomePlanned || len(plan.Plan) == 0 || !strings.Contains(plan.Plan[0], "upload edge-2.0.0.tar.gz") {
		t.Errorf("dry run: %+v", plan)
	}
	if cur := current(t, a); cur != v1 {
		t.Errorf("after a dry run current -> %s, want %s", cur, v1)
	}
	if n, _ := filepath.Glob(a.Path("/root/apps/edge/archives/*.tar.gz")); len(n) != 1 {
		t.Errorf("a dry run uploaded: %v", n)
	}

	// Version 2's check fails: exit 3, version 1 current and running again.
	failed := hs.deploy(t, 3, "deploy", "edge")
	if failed.Outcome != api.OutcomeRolledBack || failed.From != v1 || !strings.HasPrefix(failed.To, "2.0.0-") || failed.Uploaded == 0 || !strings.Contains(failed.Error, "unhealthy") {
		t.Errorf("deploy of a failing release: %+v; want rolled-back from %s, uploaded, unhealthy", failed, v1)
	}
	runningFrom(t, hs, v1)

	// Version 2.0.1 is healthy; rollback --to 1.0.0, then rollback (to the one before).
	writePackage(t, hs, "2.0.1", 18090)
	ok := hs.deploy(t, 0, "deploy", "edge")
	v2 := ok.To
	runningFrom(t, hs, v2)
	back := hs.deploy(t, 0, "rollback", "edge", "--to", "1.0.0")
	if back.To != v1 || back.From != v2 || back.Uploaded != 0 {
		t.Errorf("rollback --to 1.0.0: %+v", back)
	}
	runningFrom(t, hs, v1)
	if fwd := hs.deploy(t, 0, "rollback", "edge"); fwd.To != v2 {
		t.Errorf("rollback: to %s, want the release before, %s", fwd.To, v2)
	}
	runningFrom(t, hs, v2)

	r := hs.must(0, "releases", "edge", "-o", "json")
	var rels api.ReleasesResponse
	if err := json.Unmarshal([]byte(r.stdout), &rels); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range rels.Releases {
		ids = append(ids, x.ID)
		if x.ID == v2 && (!x.Active || !x.Running) {
			t.Errorf("releases: %s is not active and running: %+v", v2, x)
		}
	}
	if !slices.Contains(ids, v1) || !slices.Contains(ids, v2) || ids[0] != v2 {
		t.Errorf("releases: %v; want %s first, and %s", ids, v2, v1)
	}
	var outcomes []string
	for _, h := range rels.History {
		outcomes = append(outcomes, h.Outcome)
	}
	if want := []string{"ok", "rolled-back", "ok", "ok", "ok"}; !slices.Equal(outcomes, want) {
		t.Errorf("deploy history outcomes %v, want %v", outcomes, want)
	}
	t.Logf("dry run:\n%s", hs.must(0, "deploy", "edge", "--dry-run").stdout)
	t.Logf("deploy:\n%s", hs.must(0, "deploy", "edge"))
	table := hs.must(0, "releases", "edge").stdout
	t.Logf("releases:\n%s", table)
	if !strings.Contains(table, "current, running") {
		t.Errorf("releases table:\n%s", table)
	}
	// setup.sh ran once per release installed: 1.0.0, 2.0.0, 2.0.1.
	if runs, err := os.ReadFile(a.Path("/root/setup-runs")); err != nil || strings.Count(string(runs), "\n") != 3 {
		t.Errorf("setup runs: %q (%v), want 3", runs, err)
	}

	// Bad packages are refused, naming the file and line, before anything is uploaded.
	archivesBefore, _ := filepath.Glob(a.Path("/root/apps/edge/archives/*"))
	for name, breakIt := range map[string]func(dir string){
		"malformed manifest": func(dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("name: edge\nversion: 9\nservice: {executable: bin/edge\n"), 0o644)
		},
		"missing executable": func(dir string) { os.Remove(filepath.Join(dir, "bin", "edge")) },
		"path escaping": func(dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte("name: edge\nversion: 9\nservice: {executable: ../edge/bin/edge}\n"), 0o644)
		},
	} {
		writePackage(t, hs, "9.0.0", 18090)
		breakIt(filepath.Join(hs.dir, "edge"))
		r := hs.must(2, "deploy", "edge")
		if !strings.Contains(r.stderr, "edge/manifest.yaml:") {
			t.Errorf("%s: stderr does not name the manifest's line:\n%s", name, r)
		}
	}
	if after, _ := filepath.Glob(a.Path("/root/apps/edge/archives/*")); !slices.Equal(after, archivesBefore) {
		t.Errorf("bad packages uploaded something: %v, was %v", after, archivesBefore)
	}
	runningFrom(t, hs, v2)
}
