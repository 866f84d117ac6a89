package testenv

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRoutes(t *testing.T) {
	js := `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},
{"dst":"172.17.0.0/16","dev":"docker0"},
{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local"},
{"type":"unreachable","dst":"0.0.0.0/0","table":"42"}]`
	got, err := parseRoutes([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16"), netip.MustParsePrefix("127.0.0.1/32")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("parseRoutes (-want +got):\n%s", diff)
	}
	if _, err := parseRoutes([]byte(`[{"dst":"10.1.2.0/33"}]`)); err == nil {
		t.Error("parseRoutes accepted 10.1.2.0/33")
	}
}

func TestFreeSubnet(t *testing.T) {
	candidates := func(ps ...string) func() netip.Prefix {
		return func() netip.Prefix {
			p := netip.MustParsePrefix(ps[0])
			if len(ps) > 1 {
				ps = ps[1:]
			}
			return p
		}
	}
	used := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.3.4/32")}
	got, err := freeSubnet(used, candidates("10.1.7.0/24", "10.2.3.0/24", "10.2.4.0/24"))
	if err != nil || got != netip.MustParsePrefix("10.2.4.0/24") {
		t.Errorf("freeSubnet = %v, %v; want 10.2.4.0/24", got, err)
	}
	if got, err := freeSubnet(used, candidates("10.1.1.0/24")); err == nil {
		t.Errorf("freeSubnet with no free candidate = %v", got)
	}
	for range 1000 {
		if p := randomSubnet(); p.Bits() != 24 || !netip.MustParsePrefix("10.0.0.0/8").Overlaps(p) || p.Masked() != p {
			t.Fatalf("randomSubnet = %v", p)
		}
	}
}

func TestHostPath(t *testing.T) {
	h := &Host{Dir: "/run/harness-test/ht1/a-1"}
	for p, want := range map[string]string{
		"/root":                    "/run/harness-test/ht1/a-1/root",
		"/root/.harness/agent":     "/run/harness-test/ht1/a-1/root/.harness/agent",
		"/tmp/x/../y":              "/run/harness-test/ht1/a-1/tmp/y",
		"/run/wireguard/wg0.sock":  "/run/harness-test/ht1/a-1/wireguard/wg0.sock",
		"/rootfs/x":                "/rootfs/x",
		"/tmpx":                    "/tmpx",
		"/etc/hostname":            "/etc/hostname",
		"/run/harness-test/ht1/a1": "/run/harness-test/ht1/a1",
	} {
		if got := h.Path(p); got != want {
			t.Errorf("Path(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestOwnerAlive(t *testing.T) {
	dir := t.TempDir()
	if ownerAlive(dir) {
		t.Error("a LAN without owner file has a live owner")
	}
	me, err := processID(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for owner, want := range map[string]bool{
		me: true,
		// This pid, reused: the test process did not start at boot.
		fmt.Sprintf("%d 1\n", os.Getpid()): false,
		"999999999 12345\n":                false,
		"garbage":                          false,
	} {
		if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := ownerAlive(dir); got != want {
			t.Errorf("ownerAlive with owner %q = %v, want %v", owner, got, want)
		}
	}
}
