package deploy_test

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graph-network-harness/harness/internal/deploy"
	"github.com/graph-network-harness/harness/target"
)

// appManifest is the manifest of the package "app" of version, with more keys appended.
func appManifest(version, more string) string {
	return "name: app\nversion: " + version + "\nservice: {executable: bin/app}\n" + more
}

// appFiles is the package "app" of version: its manifest (with more keys), an executable,
// and the extra files.
func appFiles(version, more string, extra map[string]file) map[string]file {
	files := map[string]file{
		"manifest.yaml": {content: appManifest(version, more)},
		"bin/app":       {content: "#!/bin/sh\necho app\n", mode: 0o755},
	}
	maps.Copy(files, extra)
	return files
}

// countingSetup is a setup.sh that appends a line to $COUNTER, a file outside the release,
// at each run: its working directory, $GREETING, and the first line of config/app.conf. It
// uses only shell builtins: the environment it gets may have no PATH.
const countingSetup = `#!/bin/sh
read -r conf < config/app.conf
printf '%s|%s|%s\n' "$(pwd -P)" "$GREETING" "$conf" >> "$COUNTER"
echo "setup done"
`

// setupFiles is a package with countingSetup and a config template.
func setupFiles(version string) map[string]file {
	return appFiles(version, "", map[string]file{
		"scripts/setup.sh": {content: countingSetup, mode: 0o755},
		"config/app.conf":  {content: "port=${PORT}\nname=${NAME:-app}\n"},
	})
}

// installDir is a new, not yet created, install directory.
func installDir(t *testing.T) deploy.Dir {
	t.Helper()
	return deploy.Dir(filepath.Join(t.TempDir(), "svc"))
}

// upload builds the package of files and puts its archive where an upload does.
func upload(t *testing.T, d deploy.Dir, files map[string]file) deploy.Result {
	t.Helper()
	archive, res := build(t, bundleDir(t, files))
	writeArchiveAt(t, d.ArchivePath(res.SHA256), archive)
	return res
}

func writeArchiveAt(t *testing.T, path string, archive []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		t.Fatal(err)
	}
}

// install uploads and installs the package of files with env.
func install(t *testing.T, d deploy.Dir, files map[string]file, env ...string) deploy.Release {
	t.Helper()
	res := upload(t, d, files)
	rel, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: env})
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	return rel
}

func activate(t *testing.T, d deploy.Dir, id string, keep int) deploy.Release {
	t.Helper()
	rel, err := d.Activate(id, keep)
	if err != nil {
		t.Fatalf("Activate(%s, %d): %v", id, keep, err)
	}
	return rel
}

func listing(t *testing.T, d deploy.Dir) deploy.Listing {
	t.Helper()
	l, err := d.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return l
}

// releaseIDs are the IDs of l's releases, with a * after the active one, in l's order.
func releaseIDs(l deploy.Listing) []string {
	out := []string{}
	for _, r := range l.Releases {
		if r.Active {
			out = append(out, r.ID+"*")
		} else {
			out = append(out, r.ID)
		}
	}
	return out
}

// entries are the names in dir, sorted; none when it does not exist.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runs are the lines countingSetup appended to counter.
func runs(t *testing.T, counter string) []string {
	t.Helper()
	b, err := os.ReadFile(counter)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// shEnv returns the values of names after sh reads the release's harness.env as documented.
func shEnv(t *testing.T, rel deploy.Release, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		cmd := exec.Command("sh", "-c", `set -a; . ./`+deploy.EnvFile+`; printf %s "$`+n+`"`)
		cmd.Dir, cmd.Env = rel.Dir, []string{}
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sh reading %s: %v: %s", deploy.EnvFile, err, b)
		}
		out = append(out, string(b))
	}
	return out
}

func TestReleaseID(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ version, sum, want string }{
		{"1.4.2", sum, "1.4.2-01234567"},
		{"2024.06.01+build.7", sum, "2024.06.01+build.7-01234567"},
		{"1", "abc", "1-abc"},
	} {
		if got := deploy.ReleaseID(tc.version, tc.sum); got != tc.want {
			t.Errorf("ReleaseID(%q, %q) = %q, want %q", tc.version, tc.sum, got, tc.want)
		}
	}
}

func TestListingAndReleaseHelpers(t *testing.T) {
	a := deploy.Release{ID: "1-aaaaaaaa", Scripts: []string{deploy.SetupScript, deploy.StopScript}}
	b := deploy.Release{ID: "2-bbbbbbbb", Active: true}
	l := deploy.Listing{Releases: []deploy.Release{a, b}, Archives: []string{"aa", "bb"}}
	if cur, ok := l.Current(); !ok || cur.ID != b.ID {
		t.Errorf("Current() = %q, %v; want %q, true", cur.ID, ok, b.ID)
	}
	if cur, ok := (deploy.Listing{Releases: []deploy.Release{a}}).Current(); ok {
		t.Errorf("Current() of a listing with no active release = %q, true; want false", cur.ID)
	}
	if !l.HasArchive("bb") || l.HasArchive("cc") {
		t.Errorf("HasArchive: bb %v, cc %v; want true, false", l.HasArchive("bb"), l.HasArchive("cc"))
	}
	got := map[string]bool{}
	for _, s := range []string{deploy.SetupScript, deploy.StartScript, deploy.StopScript} {
		got[s] = a.Has(s)
	}
	want := map[string]bool{deploy.SetupScript: true, deploy.StartScript: false, deploy.StopScript: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Release.Has (-want +got):\n%s", diff)
	}
}

// A directory that does not exist holds nothing, and List does not create it.
func TestListMissingDir(t *testing.T) {
	d := installDir(t)
	want := deploy.Listing{Releases: []deploy.Release{}, Archives: []string{}}
	if diff := cmp.Diff(want, listing(t, d)); diff != "" {
		t.Errorf("List of a missing directory (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(string(d)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List created %s (stat: %v)", d, err)
	}
}

func TestInstall(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	files := appFiles("1.0.0", "", map[string]file{
		"config/app.conf":     {content: "listen=${HOST}:${PORT}\nlevel=${LOG_LEVEL:-info}\nliteral=$${HOST} $host\n"},
		"config/sub/run.sh":   {content: "#!/bin/sh\nexec app --port ${PORT}\n", mode: 0o755},
		"share/not-config.tx": {content: "${NOT_RENDERED}\n"},
		"scripts/start.sh":    {content: "#!/bin/sh\nexec bin/app\n", mode: 0o755},
	})
	res := upload(t, d, files)
	before := time.Now()
	rel, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"HOST=10.0.0.2", "PORT=8080"}})
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	id := "1.0.0-" + res.SHA256[:8]
	want := deploy.Release{
		ID:       id,
		Name:     "app",
		Version:  "1.0.0",
		SHA256:   res.SHA256,
		Dir:      filepath.Join(string(d), "releases", id),
		Scripts:  []string{deploy.StartScript},
		Manifest: []byte(files["manifest.yaml"].content),
	}
	if diff := cmp.Diff(want, rel, cmpopts.IgnoreFields(deploy.Release{}, "Installed")); diff != "" {
		t.Errorf("Install (-want +got):\n%s", diff)
	}
	if rel.Installed.Before(before) || rel.Installed.After(time.Now()) {
		t.Errorf("Installed = %v, want between %v and now", rel.Installed, before)
	}

	// The package is unpacked, the executable bit kept, config/ rendered and nothing else.
	modes := map[string]fs.FileMode{}
	for _, name := range []string{"bin/app", "config/app.conf", "config/sub/run.sh", "share/not-config.tx", deploy.EnvFile} {
		info, err := os.Stat(filepath.Join(rel.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		modes[name] = info.Mode().Perm()
	}
	for _, name := range []string{"bin/app", "config/sub/run.sh"} {
		if modes[name]&0o111 == 0 {
			t.Errorf("%s: mode %v, want executable", name, modes[name])
		}
	}
	if m := modes["share/not-config.tx"]; m&0o111 != 0 {
		t.Errorf("share/not-config.tx: mode %v, want not executable", m)
	}
	if m := modes["config/app.conf"]; m != 0o644 {
		t.Errorf("rendered config/app.conf: mode %v, want 0644", m)
	}
	if m := modes[deploy.EnvFile]; m != 0o600 {
		t.Errorf("%s: mode %v, want 0600", deploy.EnvFile, m)
	}
	gotFiles := map[string]string{}
	for _, name := range []string{"config/app.conf", "config/sub/run.sh", "share/not-config.tx"} {
		gotFiles[name] = readFile(t, filepath.Join(rel.Dir, name))
	}
	wantFiles := map[string]string{
		"config/app.conf":     "listen=10.0.0.2:8080\nlevel=info\nliteral=${HOST} $host\n",
		"config/sub/run.sh":   "#!/bin/sh\nexec app --port 8080\n",
		"share/not-config.tx": "${NOT_RENDERED}\n",
	}
	if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
		t.Errorf("release files (-want +got):\n%s", diff)
	}
	// No temporary file of the rendering is left.
	if diff := cmp.Diff([]string{"app.conf", "sub"}, entries(t, filepath.Join(rel.Dir, "config"))); diff != "" {
		t.Errorf("config/ (-want +got):\n%s", diff)
	}

	// Listed, with its archive, but not active until activated.
	l := listing(t, d)
	wantList := deploy.Listing{Releases: []deploy.Release{rel}, Archives: []string{res.SHA256}}
	if diff := cmp.Diff(wantList, l); diff != "" {
		t.Errorf("List after Install (-want +got):\n%s", diff)
	}
	if cur, ok := l.Current(); ok {
		t.Errorf("Current() after Install = %s, want none before Activate", cur.ID)
	}
	if !l.HasArchive(res.SHA256) {
		t.Errorf("HasArchive(%s) = false after Install", res.SHA256)
	}
	if _, err := os.Lstat(filepath.Join(string(d), "current")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("current exists before Activate (lstat: %v)", err)
	}
}

// harness.env gives sh back every value exactly, whatever it holds.
func TestInstallEnvFile(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	tricky := `it's  a "$HOME" ${X} $(echo no) ` + "`no` \\ \t end\nsecond line '' "
	rel := install(t, d, appFiles("1.0.0", "", nil),
		"V="+tricky, "EMPTY=", "EQ=a=b=c", "DUP=first", "DUP=last", "PLAIN=1")
	got := shEnv(t, rel, "V", "EMPTY", "EQ", "DUP", "PLAIN")
	want := []string{tricky, "", "a=b=c", "last", "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values sh reads from %s (-want +got):\n%s", deploy.EnvFile, diff)
	}
	// Only the given names, one a line, sorted.
	var names []string
	for line := range strings.Lines(readFile(t, filepath.Join(rel.Dir, deploy.EnvFile))) {
		if k, _, ok := strings.Cut(line, "='"); ok && !strings.HasPrefix(line, "#") {
			names = append(names, k)
		}
	}
	if diff := cmp.Diff([]string{"DUP", "EMPTY", "EQ", "PLAIN", "V"}, names); diff != "" {
		t.Errorf("names in %s (-want +got):\n%s", deploy.EnvFile, diff)
	}
}

func TestActivate(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	rel := install(t, d, appFiles("1.0.0", "", nil))
	before := time.Now()
	got := activate(t, d, rel.ID, 3)
	if !got.Active || got.ID != rel.ID {
		t.Errorf("Activate = %s active %v, want %s active", got.ID, got.Active, rel.ID)
	}
	if got.Activated.Before(before) || got.Activated.After(time.Now()) {
		t.Errorf("Activated = %v, want between %v and now", got.Activated, before)
	}
	link, err := os.Readlink(filepath.Join(string(d), "current"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "releases/" + rel.ID; link != want {
		t.Errorf("current -> %s, want %s", link, want)
	}
	if out := readFile(t, filepath.Join(string(d), "current", "bin", "app")); out != "#!/bin/sh\necho app\n" {
		t.Errorf("current/bin/app = %q", out)
	}
	l := listing(t, d)
	cur, ok := l.Current()
	if !ok {
		t.Fatal("Current() after Activate: none")
	}
	if diff := cmp.Diff(got, cur); diff != "" {
		t.Errorf("Current() after Activate (-want +got):\n%s", diff)
	}
	// No temporary link is left.
	if diff := cmp.Diff([]string{".lock", "archives", "current", "releases"}, entries(t, string(d))); diff != "" {
		t.Errorf("install directory (-want +got):\n%s", diff)
	}
}

// setup.sh runs once a release, in its directory, with the env and the rendered config; a
// later Install renders config/ and harness.env again with the new env, without setup.
func TestInstallSetupOnceAndReconfigure(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	counter := filepath.Join(t.TempDir(), "runs")
	files := setupFiles("1.0.0")
	env := []string{"COUNTER=" + counter, "GREETING=hello world", "PORT=1"}
	first := install(t, d, files, env...)
	if !first.Has(deploy.SetupScript) {
		t.Errorf("Scripts = %q, want %s", first.Scripts, deploy.SetupScript)
	}
	dir, err := filepath.EvalSymlinks(first.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wantRuns := []string{dir + "|hello world|port=1"}
	if diff := cmp.Diff(wantRuns, runs(t, counter)); diff != "" {
		t.Errorf("setup runs after the first Install (-want +got):\n%s", diff)
	}
	if out := readFile(t, filepath.Join(first.Dir, ".harness-setup.log")); out != "setup done\n" {
		t.Errorf("setup log = %q, want the script's output", out)
	}
	activate(t, d, first.ID, 3)

	second := install(t, d, files, "COUNTER="+counter, "PORT=2", "NAME=renamed")
	if diff := cmp.Diff(wantRuns, runs(t, counter)); diff != "" {
		t.Errorf("setup runs after the second Install (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(first, second, cmpopts.IgnoreFields(deploy.Release{}, "Activated")); diff != "" {
		t.Errorf("the second Install's release (-first +second):\n%s", diff)
	}
	if got, want := readFile(t, filepath.Join(first.Dir, "config", "app.conf")), "port=2\nname=renamed\n"; got != want {
		t.Errorf("config/app.conf after the second Install = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"2", "", "renamed"}, shEnv(t, second, "PORT", "GREETING", "NAME")); diff != "" {
		t.Errorf("%s after the second Install (-want +got):\n%s", deploy.EnvFile, diff)
	}
	// Still the current release, and the only one.
	if diff := cmp.Diff([]string{first.ID + "*"}, releaseIDs(listing(t, d))); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
}

func TestInstallSetupFails(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	script := `#!/bin/sh
echo "HEAD-MARKER"
i=0
while [ $i -lt 400 ]; do echo "filler line $i"; i=$((i+1)); done
echo "migration failed: no database" >&2
exit 3
`
	res := upload(t, d, appFiles("1.0.0", "", map[string]file{"scripts/setup.sh": {content: script, mode: 0o755}}))
	_, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256})
	if err == nil {
		t.Fatal("Install with a failing setup.sh: no error")
	}
	for _, want := range []string{"install 1.0.0-" + res.SHA256[:8], "scripts/setup.sh: exit status 3", "filler line 399", "migration failed: no database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not hold %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "HEAD-MARKER") {
		t.Errorf("error holds the head of a long output, want only its tail: %d bytes", len(err.Error()))
	}
	if diff := cmp.Diff([]string{}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ after a failed setup (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, releaseIDs(listing(t, d))); diff != "" {
		t.Errorf("List after a failed setup (-want +got):\n%s", diff)
	}
	if _, err := d.Activate(deploy.ReleaseID("1.0.0", res.SHA256), 1); !errors.Is(err, target.ErrNotFound) {
		t.Errorf("Activate of the failed release: %v, want target.ErrNotFound", err)
	}
}

// A canceled Install kills setup.sh and whatever it started, and removes the release.
func TestInstallSetupCanceled(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	script := "#!/bin/sh\nsleep 30 &\nsleep 30\n"
	res := upload(t, d, appFiles("1.0.0", "", map[string]file{"scripts/setup.sh": {content: script, mode: 0o755}}))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Install(ctx, deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err == nil || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Errorf("Install canceled during setup: %v, want an error naming scripts/setup.sh", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Install canceled after 200ms returned after %v", took)
	}
	if diff := cmp.Diff([]string{}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ after a canceled setup (-want +got):\n%s", diff)
	}
}

func TestInstallRequiredCommands(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "mytool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "notexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	counter := filepath.Join(t.TempDir(), "runs")
	files := setupFiles("1.0.0")
	files["manifest.yaml"] = file{content: appManifest("1.0.0", "requires: {commands: [sh, mytool, no-such-command-7f3a, /no/such/tool, notexec]}\n")}

	d := installDir(t)
	res := upload(t, d, files)
	_, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"PATH=" + bin + ":/bin:/usr/bin", "COUNTER=" + counter, "PORT=1"}})
	want := "requires.commands: not found on the node: no-such-command-7f3a, /no/such/tool, notexec"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Install with missing commands: %v\nwant an error holding %q", err, want)
	}
	if diff := cmp.Diff([]string{}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ after missing commands (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, runs(t, counter)); diff != "" {
		t.Errorf("setup ran despite missing commands (-want +got):\n%s", diff)
	}

	// Commands are looked up on the env's PATH: mytool is found there, and only there.
	files["manifest.yaml"] = file{content: appManifest("1.0.0", "requires: {commands: [mytool]}\n")}
	d = installDir(t)
	res = upload(t, d, files)
	_, err = d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"COUNTER=" + counter, "PORT=1"}})
	if want := "not found on the node: mytool"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Install without mytool on PATH: %v\nwant an error holding %q", err, want)
	}
	if _, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"PATH=" + bin, "COUNTER=" + counter, "PORT=1"}}); err != nil {
		t.Errorf("Install with mytool on PATH: %v", err)
	}
	if got := len(runs(t, counter)); got != 1 {
		t.Errorf("setup ran %d times, want 1", got)
	}
}

// A template that does not render fails the Install of a new release, which is removed.
func TestInstallConfigError(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	res := upload(t, d, setupFiles("1.0.0"))
	counter := filepath.Join(t.TempDir(), "runs")
	_, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"COUNTER=" + counter}})
	if want := "config/app.conf:1:6: ${PORT}: PORT is not set"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Install without PORT: %v\nwant an error holding %q", err, want)
	}
	if diff := cmp.Diff([]string{}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ after a config error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, runs(t, counter)); diff != "" {
		t.Errorf("setup ran despite a config error (-want +got):\n%s", diff)
	}
}

func TestInstallArchiveProblems(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	archive, res := build(t, bundleDir(t, appFiles("1.0.0", "", nil)))
	_, other := build(t, bundleDir(t, appFiles("2.0.0", "", nil)))

	// The archive of 1.0.0 uploaded under the sum of 2.0.0.
	writeArchiveAt(t, d.ArchivePath(other.SHA256), archive)
	_, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: other.SHA256})
	if want := "its sha256 is " + res.SHA256; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Install of an archive that does not match its sum: %v\nwant an error holding %q", err, want)
	}
	// Not uploaded.
	if _, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Install of an archive not uploaded: %v, want fs.ErrNotExist", err)
	}
	if diff := cmp.Diff([]string{}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ (-want +got):\n%s", diff)
	}
}

// A sum names files: anything but 64 lower-case hex digits is refused before any is touched.
func TestInstallBadSum(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	valid := strings.Repeat("ab", 32)
	for _, sum := range []string{"", "abc", strings.ToUpper(valid), valid[:63] + "g", valid + "00", "../../../../etc/passwd", valid[:62] + "/."} {
		_, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: sum})
		if !errors.Is(err, target.ErrInvalidSpec) || !strings.Contains(err.Error(), "want 64 lower-case hex digits") {
			t.Errorf("Install(sha256 %q): %v, want target.ErrInvalidSpec: want 64 lower-case hex digits", sum, err)
		}
	}
	if _, err := os.Stat(string(d)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Install created %s (stat: %v)", d, err)
	}
}

func TestActivateUnknown(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	rel := install(t, d, appFiles("1.0.0", "", nil))
	// An incomplete release (no record) cannot be activated either.
	if err := os.MkdirAll(filepath.Join(string(d), "releases", "2.0.0-deadbeef", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"9.9.9-00000000", "2.0.0-deadbeef", "", "../releases/" + rel.ID} {
		_, err := d.Activate(id, 1)
		if !errors.Is(err, target.ErrNotFound) || !strings.Contains(err.Error(), "not a complete release") {
			t.Errorf("Activate(%q): %v, want target.ErrNotFound: not a complete release", id, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(string(d), "current")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("current exists after refused activations (lstat: %v)", err)
	}
}

// Activate keeps the keep most recently used releases and their archives, the current one
// always, and removes the rest.
func TestActivatePrunes(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	var ids, sums []string
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		res := upload(t, d, appFiles(v, "", nil))
		rel, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		activate(t, d, rel.ID, 2)
		ids, sums = append(ids, rel.ID), append(sums, res.SHA256)
	}
	l := listing(t, d)
	if diff := cmp.Diff([]string{ids[3] + "*", ids[2]}, releaseIDs(l)); diff != "" {
		t.Errorf("releases kept (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{ids[2], ids[3]}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ (-want +got):\n%s", diff)
	}
	wantArchives := []string{sums[2] + ".tar.gz", sums[3] + ".tar.gz"}
	slices.Sort(wantArchives)
	if diff := cmp.Diff(wantArchives, entries(t, filepath.Join(string(d), "archives"))); diff != "" {
		t.Errorf("archives/ (-want +got):\n%s", diff)
	}
	if link, _ := os.Readlink(filepath.Join(string(d), "current")); link != "releases/"+ids[3] {
		t.Errorf("current -> %s, want releases/%s", link, ids[3])
	}

	// keep 0 still keeps the current release: activating the older one drops the newer.
	activate(t, d, ids[2], 0)
	if diff := cmp.Diff([]string{ids[2] + "*"}, releaseIDs(listing(t, d))); diff != "" {
		t.Errorf("releases kept with keep 0 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{sums[2] + ".tar.gz"}, entries(t, filepath.Join(string(d), "archives"))); diff != "" {
		t.Errorf("archives/ with keep 0 (-want +got):\n%s", diff)
	}
}

// Rolling back is activating an older release again: it becomes current, and first.
func TestActivateRollback(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	v1 := install(t, d, appFiles("1.0.0", "", nil))
	v2 := install(t, d, appFiles("2.0.0", "", nil))
	activate(t, d, v1.ID, 5)
	activate(t, d, v2.ID, 5)
	if diff := cmp.Diff([]string{v2.ID + "*", v1.ID}, releaseIDs(listing(t, d))); diff != "" {
		t.Errorf("releases after activating v2 (-want +got):\n%s", diff)
	}
	back := activate(t, d, v1.ID, 5)
	l := listing(t, d)
	if diff := cmp.Diff([]string{v1.ID + "*", v2.ID}, releaseIDs(l)); diff != "" {
		t.Errorf("releases after rolling back to v1 (-want +got):\n%s", diff)
	}
	if cur, ok := l.Current(); !ok || cur.ID != v1.ID || !cur.Activated.Equal(back.Activated) {
		t.Errorf("Current() = %s (activated %v), %v; want %s (activated %v)", cur.ID, cur.Activated, ok, v1.ID, back.Activated)
	}
	if link, _ := os.Readlink(filepath.Join(string(d), "current")); link != "releases/"+v1.ID {
		t.Errorf("current -> %s, want releases/%s", link, v1.ID)
	}
}

// What an interrupted install left (a release directory without its record, a temporary
// directory) is not listed, is replaced by the next Install, and is pruned on Activate.
func TestIncompleteRelease(t *testing.T) {
	t.Parallel()
	d := installDir(t)
	counter := filepath.Join(t.TempDir(), "runs")
	res := upload(t, d, setupFiles("1.0.0"))
	id := deploy.ReleaseID("1.0.0", res.SHA256)
	leftovers := map[string]file{
		id + "/bin/app":            {content: "half written"},
		id + "/junk":               {content: "from the interrupted install"},
		"." + id + ".tmp-123/junk": {content: "an unpack in progress"},
	}
	writeTree(t, filepath.Join(string(d), "releases"), leftovers)
	if diff := cmp.Diff([]string{}, releaseIDs(listing(t, d))); diff != "" {
		t.Errorf("List with an incomplete release (-want +got):\n%s", diff)
	}

	rel, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"COUNTER=" + counter, "PORT=1"}})
	if err != nil {
		t.Fatalf("Install over an incomplete release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rel.Dir, "junk")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the incomplete release's junk is still there (stat: %v)", err)
	}
	if got := readFile(t, filepath.Join(rel.Dir, "bin", "app")); got != "#!/bin/sh\necho app\n" {
		t.Errorf("bin/app = %q, want the package's", got)
	}
	if got := len(runs(t, counter)); got != 1 {
		t.Errorf("setup ran %d times, want 1", got)
	}
	if diff := cmp.Diff([]string{id}, releaseIDs(listing(t, d))); diff != "" {
		t.Errorf("List after Install (-want +got):\n%s", diff)
	}

	activate(t, d, id, 5)
	if diff := cmp.Diff([]string{id}, entries(t, filepath.Join(string(d), "releases"))); diff != "" {
		t.Errorf("releases/ after Activate (-want +got):\n%s", diff)
	}
}

// setup.sh gets exactly the environment of the request, never the agent's own.
func TestInstallSetupEnvNotInherited(t *testing.T) {
	t.Setenv("HARNESS_TEST_LEAK", "leaked")
	d := installDir(t)
	out := filepath.Join(t.TempDir(), "out")
	res := upload(t, d, appFiles("1.0.0", "", map[string]file{"scripts/setup.sh": {content: "#!/bin/sh\nprintf '[%s]' \"$HARNESS_TEST_LEAK\" > " + out + "\n", mode: 0o755}}))
	if _, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); got != "[]" {
		t.Errorf("setup.sh saw HARNESS_TEST_LEAK=%s, want nothing from the agent", got)
	}
}

// An Install that names a release installed already writes its environment again without
// reading the archive (its config/ templates, when it has some, are read again); one that
// names none, or another release, checks the whole archive.
func TestInstallKnownRelease(t *testing.T) {
	d := installDir(t)
	res := upload(t, d, appFiles("1.0.0", "", nil)) // no config/
	rel, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, Env: []string{"A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.ArchivePath(res.SHA256), []byte("not an archive any more"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, ID: rel.ID, Env: []string{"A=2"}})
	if err != nil || again.ID != rel.ID {
		t.Fatalf("install of the known release %s: %+v, %v", rel.ID, again, err)
	}
	if env := readFile(t, filepath.Join(rel.Dir, deploy.EnvFile)); !strings.Contains(env, "A='2'\n") {
		t.Errorf("harness.env not written again:\n%s", env)
	}
	for _, id := range []string{"", "9.9.9-" + res.SHA256[:8], "../" + rel.ID} {
		if _, err := d.Install(t.Context(), deploy.InstallRequest{SHA256: res.SHA256, ID: id, Env: []string{"A=3"}}); err == nil {
			t.Errorf("install naming %q read no archive: want the damaged archive refused", id)
		}
	}
}
