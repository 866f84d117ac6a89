package registry

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// IPAMStore keeps address allocations in the registry file, one pool per nested bucket of the
// ipam bucket (see doc.go). Its method set is network.Store's, written against the plain map
// type that network.Allocations aliases, so that the registry need not import network.
type IPAMStore struct {
	r *Registry
}

// IPAMStore returns the registry's store of address allocations, for network.NewIPAM.
func (r *Registry) IPAMStore() IPAMStore { return IPAMStore{r: r} }

// errUnchanged rolls back an update that changed nothing: no commit, no fsync.
var errUnchanged = errors.New("unchanged")

// Update is one atomic read-modify-write of pool's allocations (owner → address): fn gets
// them, and what it leaves is durable when Update returns nil. An error from fn writes
// nothing and is returned as is. fn runs in the write transaction and must not call the
// Registry. Allocations are not records: an Update takes no revision and makes no event.
func (s IPAMStore) Update(pool string, fn func(map[string]netip.Addr) error) error {
	var fnErr error
	err := s.r.updateIPAM(pool, func(ipam *bolt.Bucket) error {
		b := ipam.Bucket([]byte(pool))
		was, err := readPool(b)
		if err != nil {
			return err
		}
		now := maps.Clone(was)
		if fnErr = fn(now); fnErr != nil {
			return fnErr
		}
		switch {
		case maps.Equal(was, now):
			return errUnchanged
		case len(now) == 0:
			// The last address released: the pool leaves no trace.
			return ipam.DeleteBucket([]byte(pool))
		case b == nil:
			if b, err = ipam.CreateBucket([]byte(pool)); err != nil {
				return err
			}
		}
		for owner := range was {
			if _, ok := now[owner]; !ok {
				if err := b.Delete([]byte(owner)); err != nil {
					return err
				}
			}
		}
		for owner, a := range now {
			switch {
			case owner == "":
				return errors.New("owner is empty")
			case !a.IsValid():
				return fmt.Errorf("owner %q: invalid address", owner)
			case was[owner] != a:
				if err := b.Put([]byte(owner), []byte(a.String())); err != nil {
					return err
				}
			}
		}
		return nil
	})
	switch {
	case fnErr != nil:
		// The caller's own error: this layer adds nothing to it.
		return fnErr
	case errors.Is(err, errUnchanged):
		return nil
	case err != nil:
		return fmt.Errorf("update ipam pool %q: %w", pool, err)
	}
	return nil
}

// View lets fn read pool's allocations (owner → address), as of one snapshot. fn gets its own
// copy and runs after the read transaction ended. An error from fn is returned as is.
func (s IPAMStore) View(pool string, fn func(map[string]netip.Addr) error) error {
	var a map[string]netip.Addr
	err := errNoPool
	if pool != "" {
		err = s.r.view(func(tx *bolt.Tx) error {
			var err error
			a, err = readPool(tx.Bucket([]byte(bucketIPAM)).Bucket([]byte(pool)))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("view ipam pool %q: %w", pool, err)
	}
	return fn(a)
}

var errNoPool = errors.New("pool has no name")

// updateIPAM runs fn on the ipam bucket in a write transaction of its own. It does not go
// through the committer: allocations make no events, so they need neither its write lock nor
// its revisions, and they are rare (one per container or mesh node) so they need no group
// commit. bbolt runs one write transaction at a time, so this one and the committer's batches
// take turns; Close waits for it (bbolt's Close takes the same lock).
func (r *Registry) updateIPAM(pool string, fn func(ipam *bolt.Bucket) error) error {
	if pool == "" {
		return errNoPool
	}
	if r.closed.Load() {
		return ErrClosed
	}
	err := r.db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte(bucketIPAM))) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		// Close won the race after the check above.
		return ErrClosed
	}
	return err
}

// readPool decodes a pool's bucket; a nil bucket is an empty pool.
func readPool(b *bolt.Bucket) (map[string]netip.Addr, error) {
	a := map[string]netip.Addr{}
	if b == nil {
		return a, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		addr, err := netip.ParseAddr(string(v))
		if err != nil {
			return fmt.Errorf("owner %q: %w", k, err)
		}
		a[string(k)] = addr
		return nil
	})
	return a, err
}
