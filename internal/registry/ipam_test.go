package registry_test

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/graph-network-harness/harness/internal/network"
	"github.com/graph-network-harness/harness/internal/registry"
)

// The registry's store is a network.Store without the registry importing network: only this
// test does.
var _ network.Store = registry.IPAMStore{}

var (
	shop = network.Pool{
		Name:     "bridge:shop",
		Subnet:   netip.MustParsePrefix("172.30.0.0/24"),
		Reserved: []netip.Addr{netip.MustParseAddr("172.30.0.1")},
	}
	mesh = network.Pool{Name: "mesh:wg", Subnet: netip.MustParsePrefix("fd00:42::/64")}
)

// ipamFile reads the ipam bucket of the closed registry file at path: pool → owner → value.
func ipamFile(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		ipam := tx.Bucket([]byte("ipam"))
		return ipam.ForEachBucket(func(pool []byte) error {
			owners := map[string]string{}
			out[string(pool)] = owners
			return ipam.Bucket(pool).ForEach(func(k, v []byte) error {
				owners[string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// listIPAM returns pool's allocations as text.
func listIPAM(t *testing.T, m *network.IPAM, pool string) map[string]string {
	t.Helper()
	a, err := m.List(pool)
	if err != nil {
		t.Fatal(err)
	}
	return strs(a)
}

// strs returns allocations as text, for readable diffs.
func strs(a map[string]netip.Addr) map[string]string {
	out := map[string]string{}
	for o, addr := range a {
		out[o] = addr.String()
	}
	return out
}

// allocate allocates owner's address in p and checks it is want.
func allocate(t *testing.T, m *network.IPAM, p network.Pool, owner, want string) {
	t.Helper()
	got, err := m.Allocate(p, owner)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != want {
		t.Errorf("Allocate(%s, %s) = %s, want %s", p.Name, owner, got, want)
	}
}

// Allocations survive Close and Open, in the documented layout, and make no events.
func TestIPAMStorePersists(t *testing.T) {
	path := dbPath(t)
	r, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := network.NewIPAM(r.IPAMStore())
	allocate(t, m, shop, "api", "172.30.0.2")
	allocate(t, m, shop, "db", "172.30.0.3")
	if err := m.Request(shop, "web", netip.MustParseAddr("172.30.0.10")); err != nil {
		t.Fatal(err)
	}
	allocate(t, m, mesh, "a", "fd00:42::1")
	allocate(t, m, mesh, "b", "fd00:42::2")
	gone := network.Pool{Name: "bridge:gone", Subnet: netip.MustParsePrefix("10.9.0.0/30")}
	allocate(t, m, gone, "x", "10.9.0.1")
	for _, release := range [][2]string{{"bridge:shop", "db"}, {"bridge:gone", "x"}} {
		if err := m.Release(release[0], release[1]); err != nil {
			t.Fatal(err)
		}
	}
	if rev := r.Revision(); rev != 0 {
		t.Errorf("Revision after allocations = %d, want 0: allocations make no events", rev)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	want := map[string]map[string]string{
		"bridge:shop": {"api": "172.30.0.2", "web": "172.30.0.10"},
		"mesh:wg":     {"a": "fd00:42::1", "b": "fd00:42::2"},
	}
	if diff := cmp.Diff(want, ipamFile(t, path)); diff != "" {
		t.Errorf("ipam bucket (-want +got):\n%s", diff)
	}

	r = open(t, path, registry.Options{})
	m = network.NewIPAM(r.IPAMStore())
	for pool, owners := range want {
		if diff := cmp.Diff(owners, listIPAM(t, m, pool)); diff != "" {
			t.Errorf("List(%s) after reopening (-want +got):\n%s", pool, diff)
		}
	}
	allocate(t, m, shop, "api", "172.30.0.2") // idempotent across Open
	allocate(t, m, shop, "db", "172.30.0.3")  // the lowest free: .2 is still taken
	allocate(t, m, shop, "cache", "172.30.0.4")
}

var errBoom = errors.New("boom")

// An Update whose function fails, or leaves something invalid, writes nothing.
func TestIPAMStoreUpdateFails(t *testing.T) {
	path := dbPath(t)
	r, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := r.IPAMStore()
	a1 := netip.MustParseAddr("10.0.0.1")
	if err := s.Update("p", func(a map[string]netip.Addr) error { a["kept"] = a1; return nil }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pool string
		fn   func(a map[string]netip.Addr) error
		is   error
		msg  string
	}{
		{"fn fails", "p", func(a map[string]netip.Addr) error {
			a["new"] = netip.MustParseAddr("10.0.0.2")
			delete(a, "kept")
			return errBoom
		}, errBoom, "boom"},
		{"fn fails in a new pool", "new", func(a map[string]netip.Addr) error {
			a["new"] = a1
			return errBoom
		}, errBoom, "boom"},
		{"an empty owner", "p", func(a map[string]netip.Addr) error {
			a[""] = netip.MustParseAddr("10.0.0.3")
			return nil
		}, nil, `update ipam pool "p": owner is empty`},
		{"an invalid address", "p", func(a map[string]netip.Addr) error {
			delete(a, "kept")
			a["zero"] = netip.Addr{}
			return nil
		}, nil, `update ipam pool "p": owner "zero": invalid address`},
		{"no pool name", "", func(map[string]netip.Addr) error { return nil }, nil, `update ipam pool "": pool has no name`},
	}
	for _, tt := range tests {
		err := s.Update(tt.pool, tt.fn)
		if err == nil || (tt.is != nil && err != tt.is) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want %v containing %q", tt.name, err, tt.is, tt.msg)
		}
	}
	var got map[string]netip.Addr
	if err := s.View("p", func(a map[string]netip.Addr) error { got = a; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"kept": "10.0.0.1"}, strs(got)); diff != "" {
		t.Errorf("View after failed updates (-want +got):\n%s", diff)
	}
	if err := s.View("", func(map[string]netip.Addr) error { return nil }); err == nil || !strings.Contains(err.Error(), "pool has no name") {
		t.Errorf("View of no pool name: error %v", err)
	}
	if err := s.View("p", func(map[string]netip.Addr) error { return errBoom }); err != errBoom {
		t.Errorf("View whose fn fails: error %v, want %v as is", err, errBoom)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]map[string]string{"p": {"kept": "10.0.0.1"}}, ipamFile(t, path)); diff != "" {
		t.Errorf("ipam bucket (-want +got):\n%s", diff)
	}
}

// Concurrent allocations, interleaved with record writes through the committer, get distinct
// addresses; the records keep their revisions.
func TestIPAMStoreConcurrent(t *testing.T) {
	r := open(t, dbPath(t), registry.Options{})
	m := network.NewIPAM(r.IPAMStore())
	const goroutines, each = 8, 16
	got := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				a, err := m.Allocate(shop, fmt.Sprintf("g%d-%d", g, i))
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], a.String())
				if _, err := r.Put(record("shop", fmt.Sprintf("g%d", g), i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The lowest addresses, each once (sorted as text).
	var want []string
	for a := netip.MustParseAddr("172.30.0.2"); len(want) < goroutines*each; a = a.Next() {
		want = append(want, a.String())
	}
	slices.Sort(want)
	handed := slices.Sorted(slices.Values(slices.Concat(got...)))
	if diff := cmp.Diff(want, handed); diff != "" {
		t.Errorf("addresses handed out (-want +got):\n%s", diff)
	}
	listed := slices.Sorted(maps.Values(listIPAM(t, m, shop.Name)))
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("addresses listed (-want +got):\n%s", diff)
	}
	if rev := r.Revision(); rev != goroutines*each {
		t.Errorf("Revision = %d, want %d: one per Put", rev, goroutines*each)
	}
}

// A file written before the ipam bucket existed (format 1 all the same) gets it on Open.
func TestIPAMStoreOlderFile(t *testing.T) {
	path := dbPath(t)
	r, err := registry.Open(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, r, record("shop", "api", 0))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("ipam")) })
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}

	r = open(t, path, registry.Options{})
	allocate(t, network.NewIPAM(r.IPAMStore()), shop, "api", "172.30.0.2")
	if _, found, err := r.Get(registry.Key{Stack: "shop", Service: "api"}); err != nil || !found {
		t.Errorf("Get of the older file's record: found %t, error %v", found, err)
	}
}

func TestIPAMStoreClosed(t *testing.T) {
	r, err := registry.Open(dbPath(t), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	s := r.IPAMStore()
	nop := func(map[string]netip.Addr) error { return nil }
	for name, err := range map[string]error{"Update": s.Update("p", nop), "View": s.View("p", nop)} {
		if !errors.Is(err, registry.ErrClosed) {
			t.Errorf("%s after Close: error %v, want %v", name, err, registry.ErrClosed)
		}
	}
}
