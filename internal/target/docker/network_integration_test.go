//go:build integration

package docker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/moby/client"

	"github.com/graph-network-harness/harness/internal/target/docker"
	"github.com/graph-network-harness/harness/target"
)

// equateAddrs compares addresses and prefixes as the values they are.
var equateAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// ensureOnFreeSubnet ensures network name on a random /24 of 10.200.0.0/13, trying another
// while the engine finds one taken.
func ensureOnFreeSubnet(t *testing.T, ctx context.Context, tg *docker.Target, e *env, name string) target.Network {
	t.Helper()
	for range 10 {
		subnet := netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 200+rand.IntN(8), rand.IntN(256)))
		n, err := tg.EnsureNetwork(ctx, target.Network{Name: name, Stack: e.stack, Subnet: subnet})
		if err != nil && strings.Contains(err.Error(), "overlaps") {
			continue
		}
		if err != nil {
			t.Fatalf("EnsureNetwork on %s: %v", subnet, err)
		}
		want := target.Network{Name: name, Stack: e.stack, Subnet: subnet, Gateway: subnet.Addr().Next()}
		if diff := cmp.Diff(want, n, equateAddrs); diff != "" {
			t.Fatalf("EnsureNetwork on %s (-want +got):\n%s", subnet, diff)
		}
		return n
	}
	t.Fatal("no free subnet found")
	return target.Network{}
}

func TestEnsureNetworkFreeSubnet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	name := "harness-test-" + e.stack
	n, err := tg.EnsureNetwork(ctx, target.Network{Name: name, Stack: e.stack})
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != name || n.Stack != e.stack || !n.Subnet.IsValid() || !n.Subnet.Contains(n.Gateway) {
		t.Fatalf("EnsureNetwork = %+v, want the name, the stack, a subnet and its gateway", n)
	}
	// Concurrent calls for an existing or a new name: one network each, as it is.
	other := name + "-2"
	var wg sync.WaitGroup
	results := make([]target.Network, 10)
	for i := range results {
		wg.Go(func() {
			nm := []string{name, other}[i%2]
			got, err := tg.EnsureNetwork(ctx, target.Network{Name: nm, Stack: e.stack})
			if err != nil {
				t.Errorf("EnsureNetwork #%d: %v", i, err)
			}
			results[i] = got
		})
	}
	wg.Wait()
	for i, got := range results {
		if i%2 == 0 {
			if diff := cmp.Diff(n, got, equateAddrs); diff != "" {
				t.Errorf("EnsureNetwork #%d of an existing network (-want +got):\n%s", i, diff)
			}
		} else if diff := cmp.Diff(results[1], got, equateAddrs); diff != "" {
			t.Errorf("EnsureNetwork #%d of a new network (-want +got):\n%s", i, diff)
		}
	}
	for _, nm := range []string{name, other} {
		list, err := e.api.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", nm)})
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, nw := range list.Items {
			if nw.Name == nm {
				count++
			}
		}
		if count != 1 {
			t.Errorf("networks named %s: %d, want 1", nm, count)
		}
	}
}

// A container gets the address its spec asks for, on a network of a given subnet or of one
// the engine chose, and answers there (the container's own bridge address).
func TestStaticAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	image := e.serverImage(t)
	s := &specs{e: e}
	for _, tc := range []struct {
		name   string
		ensure func() target.Network
	}{
		{"given subnet", func() target.Network { return ensureOnFreeSubnet(t, ctx, tg, e, "harness-test-"+e.stack) }},
		{"engine's subnet", func() target.Network {
			n, err := tg.EnsureNetwork(ctx, target.Network{Name: "harness-test-" + e.stack + "-2", Stack: e.stack})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.ensure()
			spec := s.spec(t, image)
			ip := n.Subnet.Addr().Next().Next().Next() // .3
			spec.Container.Network, spec.Container.IP = n.Name, ip.String()
			h := start(t, ctx, tg, spec)
			st, err := tg.Inspect(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ip.String(), st.IP); diff != "" {
				t.Errorf("Inspect: IP (-want +got):\n%s", diff)
			}
			waitLine(t, ctx, tg, h, "listening on")
			if code, body := get(t, ctx, "http://"+ip.String()+":8080/health"); code != 200 || body != "ok" {
				t.Errorf("GET /health at %s = %d %q, want 200 ok", ip, code, body)
			}
		})
	}
}

// RemoveStack removes the stack's networks, except one still in use, and with volumes its
// volumes; another stack's are left.
func TestRemoveStack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, tg := testContext(t), e.newTarget(t)
	busy, idle := "harness-test-"+e.stack, "harness-test-"+e.stack+"-idle"
	for _, nm := range []string{busy, idle} {
		if _, err := tg.EnsureNetwork(ctx, target.Network{Name: nm, Stack: e.stack}); err != nil {
			t.Fatal(err)
		}
	}
	neighbour := newEnv(t)
	if _, err := tg.EnsureNetwork(ctx, target.Network{Name: "harness-test-" + neighbour.stack, Stack: neighbour.stack}); err != nil {
		t.Fatal(err)
	}
	s := &specs{e: e}
	spec := s.spec(t, e.serverImage(t))
	volume := "harness-test-" + e.stack
	spec.Container.Network = busy
	spec.Container.Mounts = []target.Mount{{Source: volume, Target: "/data", Volume: true}}
	h := start(t, ctx, tg, spec)

	names := func(stack string) []string {
		t.Helper()
		byStack := client.Filters{}.Add("label", "harness.stack="+stack)
		nets, err := e.api.NetworkList(ctx, client.NetworkListOptions{Filters: byStack})
		if err != nil {
			t.Fatal(err)
		}
		vols, err := e.api.VolumeList(ctx, client.VolumeListOptions{Filters: byStack})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range nets.Items {
			got = append(got, "network "+n.Name)
		}
		for _, v := range vols.Items {
			got = append(got, "volume "+v.Name)
		}
		return sorted(got)
	}
	if err := tg.RemoveStack(ctx, e.stack, true); err != nil {
		t.Fatalf("RemoveStack while a container runs: %v", err)
	}
	if diff := cmp.Diff([]string{"network " + busy, "volume " + volume}, names(e.stack)); diff != "" {
		t.Errorf("left while a container runs (-want +got):\n%s", diff)
	}
	if err := tg.Stop(ctx, h, 0); err != nil {
		t.Fatal(err)
	}
	if err := tg.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveStack(ctx, e.stack, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"volume " + volume}, names(e.stack)); diff != "" {
		t.Errorf("left by RemoveStack without volumes (-want +got):\n%s", diff)
	}
	if err := tg.RemoveStack(ctx, e.stack, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), names(e.stack)); diff != "" {
		t.Errorf("left by RemoveStack with volumes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"network harness-test-" + neighbour.stack}, names(neighbour.stack)); diff != "" {
		t.Errorf("the other stack's (-want +got):\n%s", diff)
	}
}
