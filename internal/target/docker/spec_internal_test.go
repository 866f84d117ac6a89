package docker

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/graph-network-harness/harness/target"
)

func TestLabelsOf(t *testing.T) {
	spec := target.Spec{Stack: "shop", Service: "db", ConfigHash: "abc", LogPath: "/data/logs/shop/db.log",
		Labels: map[string]string{"team": "core", LabelStack: "forged"}}
	want := map[string]string{
		"team":          "core",
		LabelStack:      "shop",
		LabelService:    "db",
		LabelConfigHash: "abc",
		LabelLogPath:    "/data/logs/shop/db.log",
		LabelStopSignal: "SIGINT",
	}
	if diff := cmp.Diff(want, labelsOf(spec, "SIGINT")); diff != "" {
		t.Errorf("labelsOf (-want +got):\n%s", diff)
	}
}

// portStrings renders what portsOf returns, for comparison.
func portStrings(exposed network.PortSet, bindings network.PortMap) []string {
	var out []string
	for p := range exposed {
		out = append(out, "expose "+p.String())
	}
	for p, bs := range bindings {
		for _, b := range bs {
			out = append(out, fmt.Sprintf("publish %s on %s:%s", p, b.HostIP, b.HostPort))
		}
	}
	return out
}

func TestPortsOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ports []target.Port
		want  []string
		err   string
	}{
		{name: "none"},
		{
			name:  "exposed and published",
			ports: []target.Port{{Target: 8080, Published: 18080}, {Target: 53, Published: 5353, Protocol: "udp", HostIP: "127.0.0.1"}, {Target: 9090}},
			want: []string{"expose 53/udp", "expose 8080/tcp", "expose 9090/tcp",
				"publish 53/udp on 127.0.0.1:5353", "publish 8080/tcp on invalid IP:18080"},
		},
		{
			name:  "one port on two host addresses",
			ports: []target.Port{{Target: 80, Published: 8080, HostIP: "127.0.0.1"}, {Target: 80, Published: 8080, HostIP: "::1"}},
			want:  []string{"expose 80/tcp", "publish 80/tcp on 127.0.0.1:8080", "publish 80/tcp on ::1:8080"},
		},
		{name: "protocol", ports: []target.Port{{Target: 80, Protocol: "sctp"}}, err: `protocol "sctp"`},
		{name: "range", ports: []target.Port{{Target: 70000}, {Target: 80, Published: -1}}, err: "0:70000: out of range\nport -1:80: out of range"},
		{name: "host address", ports: []target.Port{{Target: 80, Published: 80, HostIP: "localhost"}}, err: `host address "localhost"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exposed, bindings, err := portsOf(tc.ports)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("portsOf: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, portStrings(exposed, bindings), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("portsOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMountsOf(t *testing.T) {
	got, err := mountsOf([]target.Mount{
		{Source: "/srv/data", Target: "/data", ReadOnly: true},
		{Source: "pgdata", Target: "/var/lib/postgresql", Volume: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []mount.Mount{
		{Type: mount.TypeBind, Source: "/srv/data", Target: "/data", ReadOnly: true},
		{Type: mount.TypeVolume, Source: "pgdata", Target: "/var/lib/postgresql"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mountsOf (-want +got):\n%s", diff)
	}
	_, err = mountsOf([]target.Mount{{Source: "data", Target: "/data"}, {Source: "/x", Target: "rel"}, {Target: "/y", Volume: true}})
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("mountsOf of three bad mounts: %v, want three problems", err)
	}
}

func TestCreateOptions(t *testing.T) {
	spec := target.Spec{Stack: "shop", Service: "api", Env: []string{"A=1"}, User: "app", Dir: "/srv",
		Container: &target.Container{Image: "api:1", Network: "harness-shop", IP: "10.5.0.7", Entrypoint: []string{"/api"}}}
	opts, err := createOptions(spec, "api:1", "SIGTERM")
	if err != nil {
		t.Fatal(err)
	}
	ep := opts.NetworkingConfig.EndpointsConfig["harness-shop"]
	got := map[string]any{
		"name": opts.Name, "image": opts.Config.Image, "cmd": opts.Config.Cmd, "entrypoint": opts.Config.Entrypoint,
		"env": opts.Config.Env, "user": opts.Config.User, "dir": opts.Config.WorkingDir, "stop": opts.Config.StopSignal,
		"init": *opts.HostConfig.Init, "restart": string(opts.HostConfig.RestartPolicy.Name),
		"network": string(opts.HostConfig.NetworkMode), "ip": ep.IPAMConfig.IPv4Address.String(),
	}
	want := map[string]any{
		"name": "harness-shop-api", "image": "api:1", "cmd": []string(nil), "entrypoint": []string{"/api"},
		"env": []string{"A=1"}, "user": "app", "dir": "/srv", "stop": "SIGTERM",
		"init": true, "restart": "no", "network": "harness-shop", "ip": "10.5.0.7",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("createOptions (-want +got):\n%s", diff)
	}
	for _, c := range []target.Container{
		{Image: "x", IP: "10.5.0.7"},
		{Image: "x", Network: "n", IP: "not-an-address"},
		{Image: "x", Network: "n", IP: "fd00::7"},
	} {
		spec.Container = &c
		if _, err := createOptions(spec, "x", "SIGTERM"); err == nil {
			t.Errorf("createOptions with network %q, address %q: no error", c.Network, c.IP)
		}
	}
}

func TestNetworkOf(t *testing.T) {
	v6 := network.IPAMConfig{Subnet: netip.MustParsePrefix("fd00::/64")}
	for _, tc := range []struct {
		name string
		ipam []network.IPAMConfig
		want target.Network
	}{
		{"gateway", []network.IPAMConfig{v6, {Subnet: netip.MustParsePrefix("10.5.0.0/16"), Gateway: netip.MustParseAddr("10.5.0.254")}},
			target.Network{Name: "n", Stack: "s", Subnet: netip.MustParsePrefix("10.5.0.0/16"), Gateway: netip.MustParseAddr("10.5.0.254")}},
		{"no gateway", []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.6.0.0/24")}},
			target.Network{Name: "n", Stack: "s", Subnet: netip.MustParsePrefix("10.6.0.0/24"), Gateway: netip.MustParseAddr("10.6.0.1")}},
		{"no subnet", nil, target.Network{Name: "n", Stack: "s"}},
	} {
		nw := network.Network{Name: "n", Labels: map[string]string{LabelStack: "s"}, IPAM: network.IPAM{Config: tc.ipam}}
		if diff := cmp.Diff(tc.want, networkOf(nw), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
			t.Errorf("%s: networkOf (-want +got):\n%s", tc.name, diff)
		}
	}
}
