// Package wireguard is harness's WireGuard: keys kept on the node they belong to, the
// configuration of a device and its peers, the userspace device (wireguard-go on a TUN) that
// a node runs per interface, and the node side of the mesh.
//
//   - Serve is the device process ("harness agent wireguard NAME"): a TUN named NAME, a
//     device on it and its UAPI socket SocketPath(NAME), until the interface is deleted.
//   - Up, Show, Down and Set are what a node does to its interface, through that socket and
//     rtnetlink; Local is this host as a Node (the agent's answers, and the controller's own).
//   - Start and Device run a device in this process (on any tun.Device: netstack in tests).
//
// Invariants:
//   - A private key lives in one file on its node, mode 0600: LoadOrCreateKey creates it there
//     and refuses a file that others can read. It is never printed: Config's String and
//     MarshalJSON leave it out, so a Config can be logged; Status holds only public keys.
//   - A device's configuration is made exactly the last Config given, by difference: the
//     peers it keeps keep their sessions, the others are removed.
//
// Concurrency: a Device is safe for concurrent use; Config is plain data; the functions on a
// host's interfaces may run concurrently for different interfaces.
package wireguard
