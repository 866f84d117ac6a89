package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Namespace is a network namespace created for one test: a separate host with its own
// interfaces, routes and firewall, reachable only through links the test adds.
type Namespace struct {
	// Name is the namespace's name for `ip netns`: harness-test-NAME-RANDOM.
	Name string
	ip   string
}

// validNetnsName reports whether name is 1-16 of [a-z0-9-], not starting with '-': short and
// plain enough for file names, interface names derived from it and the ip command line.
func validNetnsName(name string) bool {
	if name == "" || len(name) > 16 || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// Netns creates the network namespace harness-test-NAME-RANDOM and deletes it when the test
// ends. Its only interface is lo, which is down. It needs root and the ip command (iproute2).
func Netns(t testing.TB, name string) *Namespace {
	t.Helper()
	if !validNetnsName(name) {
		t.Fatalf("testenv.Netns: name %q: want 1-16 of [a-z0-9-], starting with a letter or digit", name)
	}
	RequireRoot(t)
	ns := &Namespace{
		Name: fmt.Sprintf("harness-test-%s-%08x", name, rand.Uint32()),
		ip:   Command(t, "ip"),
	}
	if out, err := exec.Command(ns.ip, "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("create network namespace: ip netns add %s: %v: %s", ns.Name, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ns.ip, "netns", "delete", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("delete network namespace: ip netns delete %s: %v: %s", ns.Name, err, strings.TrimSpace(string(out)))
		}
	})
	return ns
}

// Exec returns a command that runs argv inside the namespace (`ip netns exec NAME argv...`).
// ip execs argv in place, so cancelling ctx kills argv itself; WaitDelay bounds the wait for
// output pipes held open by its children.
func (n *Namespace) Exec(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, n.ip, append([]string{"netns", "exec", n.Name}, argv...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
