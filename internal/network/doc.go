// Package network is harness's one view of the network: where a caller reaches a callee
// (Resolve: loopback, the harness bridge, the LAN or the mesh), what a host's interfaces hold
// (Interfaces), and which address each container or mesh node gets (IPAM). It will also hold
// the topology of the nodes and the WireGuard mesh that joins the ones that are not directly
// reachable.
//
// # IPAM
//
// IPAM hands out addresses from named pools: "bridge:STACK" for the containers on a stack's
// harness bridge, "mesh:NAME" for the nodes of a WireGuard mesh. A pool is described on every
// call by a Pool value: its name, its subnet and the addresses of the subnet that are never
// handed out (the bridge's gateway). Describing it per call rather than registering it keeps the
// IPAM stateless and lets a pool's subnet change with the config: an owner whose address is no
// longer usable in the new subnet gets a new one on its next Allocate. The allocations live in a
// Store, one map of owner to address per pool; MemStore keeps them in memory, the registry
// keeps them durably in its bbolt file.
//
// Usable addresses of a subnet:
//
//	IPv4 /0–/30   all but the network address (host bits zero) and the broadcast address
//	              (host bits one)
//	IPv4 /31      both (RFC 3021, point-to-point)
//	IPv4 /32      the one address
//	IPv6 /0–/126  all but the subnet-router anycast address (host bits zero); IPv6 has no
//	              broadcast, and the subnet anycast addresses of RFC 2526 are not withheld
//	IPv6 /127     both (RFC 6164, point-to-point)
//	IPv6 /128     the one address
//
// minus the pool's reserved addresses. Allocate gives the lowest usable address that no other
// owner holds; Request (a service's static `ip:`) claims one given address. Request static
// addresses before allocating dynamic ones, or a dynamic owner may already hold the address a
// static one wants (a ConflictError naming it).
//
// # Invariants
//
//   - Within a pool no two owners hold the same address: every change is one Store.Update,
//     an atomic read-modify-write that checks what the others hold.
//   - An address handed out by Allocate or accepted by Request is usable in the subnet of that
//     call. An owner's address is kept as long as it stays usable (Allocate is idempotent per
//     owner), and changes only when its owner requests another or a changed subnet makes it
//     unusable.
//   - Allocation costs O(allocations in the pool), whatever the size of the subnet: the search
//     walks up from the first usable address and can only be held back by a taken or reserved
//     address, so it ends after at most one step more than there are of those. A full pool
//     fails at once with ErrExhausted.
//
// # Concurrency
//
// IPAM holds no state of its own: its methods are safe for concurrent use, also by several
// IPAMs sharing one Store, since the Store serializes its Updates (MemStore does, and so does
// the registry's store). A Store calls the function given to Update with its
// lock held: the function must not call the Store.
package network
