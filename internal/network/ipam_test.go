package network_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/network"
)

// step is one call in a TestIPAM case.
type step struct {
	op     string // "allocate", "request" or "release"
	owner  string
	addr   string        // request: the address asked for; allocate: the address wanted ("" on error)
	pool   *network.Pool // when set, the pool for this step: the config changed
	is     error         // the error wraps is
	holder string        // the error is a *ConflictError naming holder
	msg    []string
}

func alloc(owner, want string) step   { return step{op: "allocate", owner: owner, addr: want} }
func request(owner, addr string) step { return step{op: "request", owner: owner, addr: addr} }
func release(owner string) step       { return step{op: "release", owner: owner} }

// fails expects the step to fail with an error wrapping is and containing msg.
func (s step) fails(is error, msg ...string) step {
	if s.op == "allocate" {
		s.addr = ""
	}
	s.is, s.msg = is, msg
	return s
}

// conflicts expects the step to fail with a *ConflictError naming holder.
func (s step) conflicts(holder string) step { s.holder = holder; return s }

// in runs the step with the pool p.
func (s step) in(p network.Pool) step { s.pool = &p; return s }

func (s step) wantErr() bool { return s.is != nil || s.holder != "" || len(s.msg) > 0 }

func (s step) String() string {
	str := s.op + " " + s.owner
	if s.op == "request" {
		str += " " + s.addr
	}
	if s.pool != nil {
		str += fmt.Sprintf(" in %s reserving %v", s.pool.Subnet, s.pool.Reserved)
	}
	return str
}

// addrs returns a's addresses as text, for readable diffs.
func addrs(a network.Allocations) map[string]string {
	out := make(map[string]string, len(a))
	for o, addr := range a {
		out[o] = addr.String()
	}
	return out
}

func pool(subnet string, reserved ...string) network.Pool {
	p := network.Pool{Name: "p", Subnet: netip.MustParsePrefix(subnet)}
	for _, r := range reserved {
		p.Reserved = append(p.Reserved, netip.MustParseAddr(r))
	}
	return p
}

// fill allocates every address of 10.0.0.0/24 in turn: .1 to .254, never .0 nor .255.
func fill() ([]step, map[string]string) {
	var steps []step
	want := map[string]string{}
	for i := 1; i <= 254; i++ {
		o, a := fmt.Sprintf("o%d", i), fmt.Sprintf("10.0.0.%d", i)
		steps = append(steps, alloc(o, a))
		want[o] = a
	}
	steps = append(steps, alloc("late", "").fails(network.ErrExhausted, "allocate late in pool p (10.0.0.0/24)"))
	return steps, want
}

func TestIPAM(t *testing.T) {
	fillSteps, fillWant := fill()
	tests := []struct {
		name  string
		pool  network.Pool
		steps []step
		want  map[string]string // the pool's allocations at the end
	}{
		{
			name:  "IPv4 /24 starts at .1",
			pool:  pool("10.0.0.0/24"),
			steps: []step{alloc("a", "10.0.0.1"), alloc("b", "10.0.0.2")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.2"},
		},
		{
			name:  "IPv4 /24 hands out .1 to .254, then is exhausted",
			pool:  pool("10.0.0.0/24"),
			steps: fillSteps,
			want:  fillWant,
		},
		{
			name: "IPv4 /30 has two addresses",
			pool: pool("10.0.0.4/30"),
			steps: []step{
				alloc("a", "10.0.0.5"), alloc("b", "10.0.0.6"),
				alloc("c", "").fails(network.ErrExhausted, "allocate c in pool p (10.0.0.4/30): address pool exhausted"),
			},
			want: map[string]string{"a": "10.0.0.5", "b": "10.0.0.6"},
		},
		{
			name:  "IPv4 /31 has both (RFC 3021)",
			pool:  pool("10.0.0.4/31"),
			steps: []step{alloc("a", "10.0.0.4"), alloc("b", "10.0.0.5"), alloc("c", "").fails(network.ErrExhausted)},
			want:  map[string]string{"a": "10.0.0.4", "b": "10.0.0.5"},
		},
		{
			name:  "IPv4 /32 has its one address",
			pool:  pool("10.0.0.7/32"),
			steps: []step{alloc("a", "10.0.0.7"), alloc("b", "").fails(network.ErrExhausted, "10.0.0.7/32")},
			want:  map[string]string{"a": "10.0.0.7"},
		},
		{
			name: "IPv6 /126 has three, not the subnet-router anycast address",
			pool: pool("fd00::/126"),
			steps: []step{
				alloc("a", "fd00::1"), alloc("b", "fd00::2"), alloc("c", "fd00::3"),
				alloc("d", "").fails(network.ErrExhausted, "fd00::/126"),
			},
			want: map[string]string{"a": "fd00::1", "b": "fd00::2", "c": "fd00::3"},
		},
		{
			name:  "IPv6 /127 has both (RFC 6164)",
			pool:  pool("fd00::4/127"),
			steps: []step{alloc("a", "fd00::4"), alloc("b", "fd00::5"), alloc("c", "").fails(network.ErrExhausted)},
			want:  map[string]string{"a": "fd00::4", "b": "fd00::5"},
		},
		{
			name:  "IPv6 /128 has its one address",
			pool:  pool("fd00::9/128"),
			steps: []step{alloc("a", "fd00::9"), alloc("b", "").fails(network.ErrExhausted)},
			want:  map[string]string{"a": "fd00::9"},
		},
		{
			name: "the gateway is never handed out",
			pool: pool("172.30.0.0/24", "172.30.0.1"),
			steps: []step{
				alloc("a", "172.30.0.2"),
				request("b", "172.30.0.1").fails(network.ErrUnusable, "request 172.30.0.1 for b in pool p (172.30.0.0/24): address not usable: reserved"),
			},
			want: map[string]string{"a": "172.30.0.2"},
		},
		{
			name:  "a reserved address in the middle is skipped",
			pool:  pool("10.0.0.0/29", "10.0.0.2", "10.0.0.4"),
			steps: []step{alloc("a", "10.0.0.1"), alloc("b", "10.0.0.3"), alloc("c", "10.0.0.5"), alloc("d", "10.0.0.6"), alloc("e", "").fails(network.ErrExhausted)},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.3", "c": "10.0.0.5", "d": "10.0.0.6"},
		},
		{
			name:  "allocate is idempotent per owner",
			pool:  pool("10.0.0.0/24"),
			steps: []step{alloc("a", "10.0.0.1"), alloc("b", "10.0.0.2"), alloc("a", "10.0.0.1"), alloc("b", "10.0.0.2")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.2"},
		},
		{
			name: "a released address is handed out again, lowest first",
			pool: pool("10.0.0.0/24"),
			steps: []step{
				alloc("a", "10.0.0.1"), alloc("b", "10.0.0.2"), alloc("c", "10.0.0.3"),
				release("b"), release("never-held"), alloc("d", "10.0.0.2"), alloc("b", "10.0.0.4"),
			},
			want: map[string]string{"a": "10.0.0.1", "b": "10.0.0.4", "c": "10.0.0.3", "d": "10.0.0.2"},
		},
		{
			name: "release frees a full pool",
			pool: pool("10.0.0.4/30"),
			steps: []step{
				alloc("a", "10.0.0.5"), alloc("b", "10.0.0.6"), alloc("c", "").fails(network.ErrExhausted),
				release("a"), alloc("c", "10.0.0.5"),
			},
			want: map[string]string{"b": "10.0.0.6", "c": "10.0.0.5"},
		},
		{
			name: "a static address held by another owner is a conflict naming it",
			pool: pool("10.0.0.0/24"),
			steps: []step{
				alloc("a", "10.0.0.1"),
				request("b", "10.0.0.1").conflicts("a").fails(nil, "request 10.0.0.1 for b in pool p (10.0.0.0/24): 10.0.0.1 is held by a"),
			},
			want: map[string]string{"a": "10.0.0.1"},
		},
		{
			name: "a static address outside the subnet",
			pool: pool("10.0.0.0/24"),
			steps: []step{
				request("a", "10.0.1.1").fails(network.ErrUnusable, "address not usable: outside the subnet"),
				request("a", "fd00::1").fails(network.ErrUnusable, "outside the subnet"),
				request("a", "fe80::1%eth0").fails(network.ErrUnusable, "outside the subnet"),
			},
			want: map[string]string{},
		},
		{
			name: "a static network or broadcast address",
			pool: pool("10.0.0.0/24"),
			steps: []step{
				request("a", "10.0.0.0").fails(network.ErrUnusable, "request 10.0.0.0 for a", "the subnet's network address"),
				request("a", "10.0.0.255").fails(network.ErrUnusable, "request 10.0.0.255 for a", "the subnet's broadcast address"),
				request("a", "10.0.0.254"),
			},
			want: map[string]string{"a": "10.0.0.254"},
		},
		{
			name: "a static IPv6 subnet-router anycast address; the last address is usable",
			pool: pool("fd00::/64"),
			steps: []step{
				request("a", "fd00::").fails(network.ErrUnusable, "the subnet-router anycast address"),
				request("a", "fd00::ffff:ffff:ffff:ffff"),
			},
			want: map[string]string{"a": "fd00::ffff:ffff:ffff:ffff"},
		},
		{
			name:  "static addresses at both ends of a /31 and a /127",
			pool:  pool("10.0.0.4/31"),
			steps: []step{request("a", "10.0.0.4"), request("b", "10.0.0.5"), request("c", "fd00::7").in(pool("fd00::6/127")), request("d", "fd00::6").in(pool("fd00::6/127"))},
			want:  map[string]string{"a": "10.0.0.4", "b": "10.0.0.5", "c": "fd00::7", "d": "fd00::6"},
		},
		{
			name:  "a static address requested twice by its owner",
			pool:  pool("10.0.0.0/24"),
			steps: []step{request("a", "10.0.0.7"), request("a", "10.0.0.7"), alloc("a", "10.0.0.7"), alloc("b", "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.7", "b": "10.0.0.1"},
		},
		{
			name:  "a static request moves its owner, freeing the old address",
			pool:  pool("10.0.0.0/24"),
			steps: []step{alloc("a", "10.0.0.1"), request("a", "10.0.0.9"), alloc("b", "10.0.0.1")},
			want:  map[string]string{"a": "10.0.0.9", "b": "10.0.0.1"},
		},
		{
			name:  "allocation skips static addresses",
			pool:  pool("10.0.0.0/24"),
			steps: []step{request("a", "10.0.0.1"), request("b", "10.0.0.3"), alloc("c", "10.0.0.2"), alloc("d", "10.0.0.4")},
			want:  map[string]string{"a": "10.0.0.1", "b": "10.0.0.3", "c": "10.0.0.2", "d": "10.0.0.4"},
		},
		{
			name: "an owner whose address left a changed subnet gets a new one",
			pool: pool("10.0.0.0/24"),
			steps: []step{
				alloc("a", "10.0.0.1"), request("b", "10.0.0.9"), alloc("c", "10.0.0.2"),
				// Moved: a new address; b's old one does not count in the new subnet.
				alloc("a", "10.0.1.1").in(pool("10.0.1.0/24")), alloc("b", "10.0.1.2").in(pool("10.0.1.0/24")),
				// Grown: c keeps its address.
				alloc("c", "10.0.0.2").in(pool("10.0.0.0/16")),
				// Another family.
				alloc("c", "fd00::1").in(pool("fd00::/64")),
			},
			want: map[string]string{"a": "10.0.1.1", "b": "10.0.1.2", "c": "fd00::1"},
		},
		{
			name: "an owner whose address became reserved gets a new one",
			pool: pool("10.0.0.0/24", "10.0.0.1"),
			steps: []step{
				request("a", "10.0.0.2"), alloc("b", "10.0.0.3"), alloc("a", "10.0.0.2"),
				// The gateway moved to a's address.
				alloc("a", "10.0.0.1").in(pool("10.0.0.0/24", "10.0.0.2")),
			},
			want: map[string]string{"a": "10.0.0.1", "b": "10.0.0.3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := network.NewIPAM(&network.MemStore{})
			for i, s := range tt.steps {
				p := tt.pool
				if s.pool != nil {
					p = *s.pool
				}
				var (
					got string
					err error
				)
				switch s.op {
				case "allocate":
					var a netip.Addr
					if a, err = m.Allocate(p, s.owner); a.IsValid() {
						got = a.String()
					}
				case "request":
					err = m.Request(p, s.owner, netip.MustParseAddr(s.addr))
				case "release":
					err = m.Release(p.Name, s.owner)
				}
				checkErr(t, fmt.Sprintf("step %d, %s", i, s), err, s)
				if s.op == "allocate" && got != s.addr {
					t.Errorf("step %d, %s: got %q, want %q", i, s, got, s.addr)
				}
			}
			list, err := m.List(tt.pool.Name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, addrs(list)); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			for o, want := range tt.want {
				a, ok, err := m.Lookup(tt.pool.Name, o)
				if err != nil || !ok || a.String() != want {
					t.Errorf("Lookup(%s) = %v, %t, %v; want %s", o, a, ok, err, want)
				}
			}
		})
	}
}

// checkErr checks err against what s expects.
func checkErr(t *testing.T, what string, err error, s step) {
	t.Helper()
	if !s.wantErr() {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if s.is != nil && !errors.Is(err, s.is) {
		t.Errorf("%s: error %q does not wrap %q", what, err, s.is)
	}
	if s.holder != "" {
		var ce *network.ConflictError
		if !errors.As(err, &ce) || ce.Owner != s.holder {
			t.Errorf("%s: error %q is not a conflict with %s", what, err, s.holder)
		}
	}
	for _, m := range s.msg {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s: error %q does not contain %q", what, err, m)
		}
	}
}

func TestIPAMInvalid(t *testing.T) {
	m := network.NewIPAM(&network.MemStore{})
	ok := pool("10.0.0.0/24")
	unmasked := pool("10.0.0.1/24")
	noName := ok
	noName.Name = ""
	tests := []struct {
		name string
		call func() error
		msg  string
	}{
		{"unmasked subnet", func() error { _, err := m.Allocate(unmasked, "a"); return err }, "allocate a in pool p (10.0.0.1/24): subnet 10.0.0.1/24 has host bits set: want 10.0.0.0/24"},
		{"no subnet", func() error { _, err := m.Allocate(network.Pool{Name: "p"}, "a"); return err }, "allocate a in pool p (invalid Prefix): invalid subnet"},
		{"no pool name", func() error { _, err := m.Allocate(noName, "a"); return err }, "pool has no name"},
		{"no owner", func() error { _, err := m.Allocate(ok, ""); return err }, "owner is empty"},
		{"request in an unmasked subnet", func() error { return m.Request(unmasked, "a", netip.MustParseAddr("10.0.0.5")) }, "has host bits set"},
		{"request with no owner", func() error { return m.Request(ok, "", netip.MustParseAddr("10.0.0.5")) }, "owner is empty"},
		{"request of no address", func() error { return m.Request(ok, "a", netip.Addr{}) }, "outside the subnet"},
		{"release with no pool name", func() error { return m.Release("", "a") }, "release a in pool : pool has no name"},
		{"lookup with no owner", func() error { _, _, err := m.Lookup("p", ""); return err }, "look up  in pool p: owner is empty"},
		{"list with no pool name", func() error { _, err := m.List(""); return err }, "list pool: pool has no name"},
	}
	for _, tt := range tests {
		err := tt.call()
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.msg)
		}
	}
	list, err := m.List("p")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{}, addrs(list)); diff != "" {
		t.Errorf("List after invalid calls (-want +got):\n%s", diff)
	}
}

// A /64 with thousands of owners: allocation walks the taken addresses, never the subnet.
func TestIPAMLargeSubnet(t *testing.T) {
	m := network.NewIPAM(&network.MemStore{})
	p := network.Pool{Name: "mesh:wg", Subnet: netip.MustParsePrefix("fd00:1::/64")}
	const n = 2000
	want := map[string]string{}
	a := netip.MustParseAddr("fd00:1::1")
	for i := range n {
		o := fmt.Sprintf("node%d", i)
		got, err := m.Allocate(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if got != a {
			t.Fatalf("Allocate(%s) = %s, want %s", o, got, a)
		}
		want[o] = a.String()
		a = a.Next()
	}
	list, err := m.List(p.Name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, addrs(list)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

// Concurrent allocations on one MemStore get distinct addresses.
func TestIPAMConcurrent(t *testing.T) {
	m := network.NewIPAM(&network.MemStore{})
	p := pool("10.0.0.0/24")
	var wg sync.WaitGroup
	got := make([][]netip.Addr, 8)
	for g := range got {
		wg.Go(func() {
			for i := range 20 {
				a, err := m.Allocate(p, fmt.Sprintf("g%d-%d", g, i))
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], a)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(got...)
	slices.SortFunc(all, netip.Addr.Compare)
	if n := len(slices.Compact(slices.Clone(all))); n != 160 || len(all) != 160 {
		t.Fatalf("%d distinct addresses of %d, want 160: %v", n, len(all), all)
	}
	if first, last := all[0].String(), all[159].String(); first != "10.0.0.1" || last != "10.0.0.160" {
		t.Errorf("addresses from %s to %s, want 10.0.0.1 to 10.0.0.160", first, last)
	}
}

// model is a plain reimplementation of the IPAM's rules, by brute force over small subnets.
type model map[string]map[string]netip.Addr // pool → owner → address

// usable lists p's usable addresses in order, from every address of its subnet.
func usable(p network.Pool) []netip.Addr {
	var all []netip.Addr
	for a := p.Subnet.Addr(); a.IsValid() && p.Subnet.Contains(a); a = a.Next() {
		all = append(all, a)
	}
	if p.Subnet.Addr().BitLen()-p.Subnet.Bits() > 1 {
		all = all[1:] // the network address, the subnet-router anycast address
		if p.Subnet.Addr().Is4() {
			all = all[:len(all)-1] // the broadcast address
		}
	}
	return slices.DeleteFunc(all, func(a netip.Addr) bool { return slices.Contains(p.Reserved, a) })
}

// holder is who in pool holds a, other than owner.
func (m model) holder(pool, owner string, a netip.Addr) string {
	for o, held := range m[pool] {
		if held == a && o != owner {
			return o
		}
	}
	return ""
}

// outcome is an operation's result, comparable between the IPAM and the model.
type outcome struct {
	Addr     string
	Exhaust  bool
	Unusable bool
	Holder   string
}

func (m model) allocate(p network.Pool, owner string) outcome {
	ok := usable(p)
	if cur, held := m[p.Name][owner]; held && slices.Contains(ok, cur) {
		return outcome{Addr: cur.String()}
	}
	for _, a := range ok {
		if m.holder(p.Name, owner, a) == "" {
			m[p.Name][owner] = a
			return outcome{Addr: a.String()}
		}
	}
	return outcome{Exhaust: true}
}

func (m model) request(p network.Pool, owner string, a netip.Addr) outcome {
	if !slices.Contains(usable(p), a) {
		return outcome{Unusable: true}
	}
	if h := m.holder(p.Name, owner, a); h != "" {
		return outcome{Holder: h}
	}
	m[p.Name][owner] = a
	return outcome{}
}

func result(a netip.Addr, err error) outcome {
	var o outcome
	if a.IsValid() {
		o.Addr = a.String()
	}
	var ce *network.ConflictError
	switch {
	case err == nil:
	case errors.Is(err, network.ErrExhausted):
		o.Exhaust = true
	case errors.Is(err, network.ErrUnusable):
		o.Unusable = true
	case errors.As(err, &ce):
		o.Holder = ce.Owner
	default:
		o.Addr = "unexpected error: " + err.Error()
	}
	return o
}

// Random allocations, requests and releases on small pools of both families: after each, no
// two owners of a pool share an address, every address is usable in its pool, and the IPAM
// agrees with the model.
func TestIPAMProperties(t *testing.T) {
	pools := []network.Pool{
		{Name: "bridge:a", Subnet: netip.MustParsePrefix("10.0.0.0/29"), Reserved: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		{Name: "p2p4", Subnet: netip.MustParsePrefix("10.0.0.8/31")},
		{Name: "one", Subnet: netip.MustParsePrefix("192.0.2.7/32")},
		{Name: "mesh:wg", Subnet: netip.MustParsePrefix("fd00::/125")},
		{Name: "p2p6", Subnet: netip.MustParsePrefix("fd00::10/127")},
	}
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 8))
		m := network.NewIPAM(&network.MemStore{})
		want := model{}
		for _, p := range pools {
			want[p.Name] = map[string]netip.Addr{}
		}
		for i := range 3000 {
			p := pools[rng.IntN(len(pools))]
			owner := fmt.Sprintf("o%d", rng.IntN(8))
			var (
				op      string
				got, wo outcome
			)
			switch r := rng.IntN(4); {
			case r < 2:
				op = "allocate " + owner
				got, wo = result(m.Allocate(p, owner)), want.allocate(p, owner)
			case r == 2:
				// Any address of the subnet, or one just outside it.
				a := p.Subnet.Addr()
				for range rng.IntN(1 << (a.BitLen() - p.Subnet.Bits())) {
					a = a.Next()
				}
				if rng.IntN(8) == 0 {
					a = a.Prev()
				}
				op = "request " + owner + " " + a.String()
				got, wo = result(netip.Addr{}, m.Request(p, owner, a)), want.request(p, owner, a)
			default:
				op = "release " + owner
				got = result(netip.Addr{}, m.Release(p.Name, owner))
				delete(want[p.Name], owner)
			}
			where := fmt.Sprintf("seed %d, op %d: %s in %s", seed, i, op, p.Name)
			if diff := cmp.Diff(wo, got); diff != "" {
				t.Fatalf("%s (-model +ipam):\n%s", where, diff)
			}
			// The other pools are checked when an operation lands on them.
			checkPool(t, where, m, p, want[p.Name])
		}
	}
}

// checkPool checks that no two owners of p share an address, that every address is usable in
// p, and that the allocations are the model's.
func checkPool(t *testing.T, where string, m *network.IPAM, p network.Pool, want map[string]netip.Addr) {
	t.Helper()
	list, err := m.List(p.Name)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]string{}
	ok := usable(p)
	for o, a := range list {
		if prev, dup := seen[a]; dup {
			t.Fatalf("%s: %s and %s share %s in %s", where, prev, o, a, p.Name)
		}
		seen[a] = o
		if !slices.Contains(ok, a) {
			t.Fatalf("%s: %s holds %s, not usable in %s %s", where, o, a, p.Name, p.Subnet)
		}
	}
	if diff := cmp.Diff(addrs(want), addrs(list)); diff != "" {
		t.Fatalf("%s: pool %s (-model +ipam):\n%s", where, p.Name, diff)
	}
}
