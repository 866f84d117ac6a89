package docker

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRoutes(t *testing.T) {
	// /proc/net/route of a little-endian host: default via 192.0.2.1, docker0 172.17.0.0/16,
	// eth0 192.0.2.0/24.
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
`
	got, err := parseRoutes(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16"), netip.MustParsePrefix("192.0.2.0/24")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("parseRoutes (-want +got):\n%s", diff)
	}
	if _, err := parseRoutes(strings.NewReader("header\neth0 zz 0 0 0 0 0 00FFFFFF\n")); err == nil {
		t.Error("parseRoutes of a malformed destination: no error")
	}
}

func TestFirstFree(t *testing.T) {
	p := netip.MustParsePrefix
	pools := []netip.Prefix{p("10.0.0.0/23"), p("10.9.0.0/24")}
	tests := []struct {
		name  string
		taken []netip.Prefix
		want  string // "" for exhausted
	}{
		{"nothing taken", nil, "10.0.0.0/24"},
		{"the first taken", []netip.Prefix{p("10.0.0.0/24")}, "10.0.1.0/24"},
		{"a wider route over the first pool", []netip.Prefix{p("10.0.0.0/16")}, "10.9.0.0/24"},
		{"an address inside", []netip.Prefix{p("10.0.0.77/32"), p("10.0.1.0/25")}, "10.9.0.0/24"},
		{"exhausted", []netip.Prefix{p("10.0.0.0/8")}, ""},
	}
	for _, tt := range tests {
		got, err := firstFree(pools, 24, tt.taken)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s: %s, want an error", tt.name, got)
		case tt.want != "" && (err != nil || got != p(tt.want)):
			t.Errorf("%s: %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}
