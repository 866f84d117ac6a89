package network

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
)

// Allocations are the addresses of a pool, by owner. It is an alias, not a defined type, so
// that a store outside this package (the registry's) satisfies Store with methods written
// against the plain map type, without importing this package.
type Allocations = map[string]netip.Addr

// Store keeps the allocations of every pool. The IPAM's invariants rest on Update being atomic.
type Store interface {
	// Update is one atomic read-modify-write of pool: fn gets the pool's current allocations
	// (empty for a new pool) and may change them. When fn returns nil, its changes are stored
	// (durably, for a durable store) before Update returns; when it returns an error, nothing
	// is stored and Update returns that error as is. fn must not call the Store.
	Update(pool string, fn func(a Allocations) error) error
	// View lets fn read a consistent snapshot of pool's allocations. fn must not change them.
	// An error from fn is returned as is.
	View(pool string, fn func(a Allocations) error) error
}

// Sentinel errors; the IPAM wraps them with the operation, pool, subnet and owner.
var (
	// ErrExhausted: every usable address of the pool's subnet is taken.
	ErrExhausted = errors.New("address pool exhausted")
	// ErrUnusable: a requested address is outside the subnet, its network or broadcast
	// address, or reserved.
	ErrUnusable = errors.New("address not usable")
)

// ConflictError is a requested address that another owner holds.
type ConflictError struct {
	Addr  netip.Addr
	Owner string // who holds Addr
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s is held by %s", e.Addr, e.Owner)
}

// Pool describes a pool of addresses on every call that changes it.
type Pool struct {
	// Name identifies the pool in its Store: "bridge:STACK", "mesh:NAME".
	Name string
	// Subnet is the range handed out, masked (no host bits set).
	Subnet netip.Prefix
	// Reserved are addresses of Subnet never handed out, such as the bridge's gateway.
	Reserved []netip.Addr
}

// validate checks the pool and the owner it is used for.
func (p Pool) validate(owner string) error {
	if err := checkNames(p.Name, owner); err != nil {
		return err
	}
	switch {
	case !p.Subnet.IsValid():
		return errors.New("invalid subnet")
	case p.Subnet != p.Subnet.Masked():
		return fmt.Errorf("subnet %s has host bits set: want %s", p.Subnet, p.Subnet.Masked())
	}
	return nil
}

// check returns nil when a is usable in the pool, else an error wrapping ErrUnusable that
// says why.
func (p Pool) check(a netip.Addr) error {
	first, last := usableRange(p.Subnet)
	var why string
	switch {
	case !p.Subnet.Contains(a):
		why = "outside the subnet"
	case a.Less(first) && a.Is4():
		why = "the subnet's network address"
	case a.Less(first):
		why = "the subnet-router anycast address"
	case last.Less(a):
		why = "the subnet's broadcast address"
	case slices.Contains(p.Reserved, a):
		why = "reserved"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnusable, why)
}

// lowestFree returns the lowest usable address of the pool that no owner in a holds. It
// steps over taken and reserved addresses only, so it takes at most len(a)+len(p.Reserved)+1
// steps whatever the size of the subnet.
func (p Pool) lowestFree(a Allocations) (netip.Addr, error) {
	taken := make(map[netip.Addr]bool, len(a)+len(p.Reserved))
	for _, addr := range a {
		taken[addr] = true
	}
	for _, addr := range p.Reserved {
		taken[addr] = true
	}
	first, last := usableRange(p.Subnet)
	for addr := first; ; addr = addr.Next() {
		if !taken[addr] {
			return addr, nil
		}
		if addr == last {
			return netip.Addr{}, ErrExhausted
		}
	}
}

// usableRange returns the first and the last usable address of the masked subnet s, before
// reserved addresses: see the table in doc.go.
func usableRange(s netip.Prefix) (first, last netip.Addr) {
	first, last = s.Addr(), lastAddr(s)
	if s.Addr().BitLen()-s.Bits() <= 1 {
		return first, last // /31, /32, /127, /128: every address
	}
	first = first.Next() // the network address, or IPv6's subnet-router anycast address
	if s.Addr().Is4() {
		last = last.Prev() // the broadcast address
	}
	return first, last
}

// lastAddr returns the address of s with every host bit set.
func lastAddr(s netip.Prefix) netip.Addr {
	a, bits := s.Addr().As16(), s.Bits()
	if s.Addr().Is4() {
		bits += 96 // As16 maps IPv4 to ::ffff:a.b.c.d
	}
	for i := bits; i < 128; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	if s.Addr().Is4() {
		return netip.AddrFrom16(a).Unmap()
	}
	return netip.AddrFrom16(a)
}

// IPAM allocates addresses from pools kept in a Store. See the package documentation.
type IPAM struct {
	store Store
}

// NewIPAM returns an IPAM keeping its allocations in store.
func NewIPAM(store Store) *IPAM { return &IPAM{store: store} }

// Allocate returns owner's address in p: the one it holds when that is still usable in p,
// else the lowest usable address that no other owner holds, which it then holds. When there is
// none, the error wraps ErrExhausted.
func (m *IPAM) Allocate(p Pool, owner string) (netip.Addr, error) {
	var got netip.Addr
	err := p.validate(owner)
	if err == nil {
		err = m.store.Update(p.Name, func(a Allocations) error {
			if cur, ok := a[owner]; ok && p.check(cur) == nil {
				got = cur
				return nil
			}
			// owner's own address, if any, is not usable: it cannot be in the way.
			free, err := p.lowestFree(a)
			if err != nil {
				return err
			}
			a[owner], got = free, free
			return nil
		})
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("allocate %s in pool %s (%s): %w", owner, p.Name, p.Subnet, err)
	}
	return got, nil
}

// Request gives owner the static address addr in p, in place of any it held. The error wraps
// ErrUnusable when addr is not usable in p, and is a *ConflictError (errors.As) when another
// owner holds it. Requesting the address an owner holds already is no change.
func (m *IPAM) Request(p Pool, owner string, addr netip.Addr) error {
	err := p.validate(owner)
	if err == nil {
		err = p.check(addr)
	}
	if err == nil {
		err = m.store.Update(p.Name, func(a Allocations) error {
			for o, held := range a {
				if held == addr && o != owner {
					return &ConflictError{Addr: addr, Owner: o}
				}
			}
			a[owner] = addr
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("request %s for %s in pool %s (%s): %w", addr, owner, p.Name, p.Subnet, err)
	}
	return nil
}

// Release frees owner's address in pool, if it holds one.
func (m *IPAM) Release(pool, owner string) error {
	err := checkNames(pool, owner)
	if err == nil {
		err = m.store.Update(pool, func(a Allocations) error {
			delete(a, owner)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("release %s in pool %s: %w", owner, pool, err)
	}
	return nil
}

// Lookup returns owner's address in pool, and whether it holds one.
func (m *IPAM) Lookup(pool, owner string) (netip.Addr, bool, error) {
	var (
		addr netip.Addr
		ok   bool
	)
	err := checkNames(pool, owner)
	if err == nil {
		err = m.store.View(pool, func(a Allocations) error {
			addr, ok = a[owner]
			return nil
		})
	}
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("look up %s in pool %s: %w", owner, pool, err)
	}
	return addr, ok, nil
}

// List returns the allocations of pool: the caller's own copy.
func (m *IPAM) List(pool string) (Allocations, error) {
	if pool == "" {
		return nil, fmt.Errorf("list pool: %w", errNoPool)
	}
	out := Allocations{}
	err := m.store.View(pool, func(a Allocations) error {
		maps.Copy(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pool %s: %w", pool, err)
	}
	return out, nil
}

// checkNames checks a pool's name and an owner: a Store needs both non-empty.
func checkNames(pool, owner string) error {
	switch {
	case pool == "":
		return errNoPool
	case owner == "":
		return errors.New("owner is empty")
	}
	return nil
}

var errNoPool = errors.New("pool has no name")

// MemStore is a Store in memory, for tests and for library users that need no persistence.
// The zero value is an empty store. It is safe for concurrent use.
type MemStore struct {
	mu    sync.Mutex
	pools map[string]Allocations
}

var _ Store = (*MemStore)(nil)

// Update implements Store: fn changes a copy, which replaces the pool when fn returns nil.
func (s *MemStore) Update(pool string, fn func(a Allocations) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := maps.Clone(s.pools[pool])
	if a == nil {
		a = Allocations{}
	}
	if err := fn(a); err != nil {
		return err
	}
	switch {
	case len(a) == 0:
		delete(s.pools, pool)
	case s.pools == nil:
		s.pools = map[string]Allocations{pool: a}
	default:
		s.pools[pool] = a
	}
	return nil
}

// View implements Store: fn reads a copy, after the store's lock is released.
func (s *MemStore) View(pool string, fn func(a Allocations) error) error {
	s.mu.Lock()
	a := maps.Clone(s.pools[pool])
	s.mu.Unlock()
	if a == nil {
		a = Allocations{}
	}
	return fn(a)
}
