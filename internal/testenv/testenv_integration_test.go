//go:build integration

package testenv

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDockerEngineAnswers proves that CI provides a Docker engine: it answers /_ping (inside
// Docker) and reports its API version on /version.
func TestDockerEngineAnswers(t *testing.T) {
	host := Docker(t)
	socket, err := dockerSocket(host)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	body, err := dockerGet(ctx, socket, "/version")
	if err != nil {
		t.Fatal(err)
	}
	var version struct{ Version, APIVersion string }
	if err := json.Unmarshal(body, &version); err != nil {
		t.Fatalf("decode /version: %v: %s", err, body)
	}
	if version.APIVersion == "" {
		t.Fatalf("/version has no ApiVersion: %s", body)
	}
	t.Logf("docker engine %s (API %s) at %s", version.Version, version.APIVersion, host)
}

// TestNetnsLoopback proves that network namespaces work: a fresh one sees only its own lo,
// which carries 127.0.0.1 once up.
func TestNetnsLoopback(t *testing.T) {
	ns := Netns(t, "lo")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	run := func(argv ...string) string {
		t.Helper()
		out, err := ns.Exec(ctx, argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("in %s: %s: %v: %s", ns.Name, strings.Join(argv, " "), err, out)
		}
		return string(out)
	}

	run("ip", "link", "set", "lo", "up")

	var links []string
	for line := range strings.Lines(run("ip", "-o", "link", "show")) {
		// "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 ..."
		if f := strings.Fields(line); len(f) > 1 {
			links = append(links, strings.TrimSuffix(f[1], ":"))
		}
	}
	if diff := cmp.Diff([]string{"lo"}, links); diff != "" {
		t.Errorf("interfaces in %s (-want +got):\n%s", ns.Name, diff)
	}
	if addrs := run("ip", "-o", "addr", "show", "dev", "lo"); !strings.Contains(addrs, "inet 127.0.0.1/8") {
		t.Errorf("lo in %s has no 127.0.0.1/8:\n%s", ns.Name, addrs)
	}
}

// TestSshdPresent proves that OpenSSH's sshd is installed for the SSH tests, which start it
// inside their own namespaces.
func TestSshdPresent(t *testing.T) {
	sshd := Command(t, "sshd")
	// sshd -V prints the version on stderr and exits 0 (OpenSSH 9.2 and later).
	out, err := exec.CommandContext(t.Context(), sshd, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -V: %v: %s", sshd, err, out)
	}
	if !regexp.MustCompile(`^OpenSSH_\d`).Match(out) {
		t.Fatalf("%s -V = %q, want an OpenSSH version", sshd, out)
	}
	t.Logf("%s: %s", sshd, strings.TrimSpace(string(out)))
}
