// Package wireguard is harness's WireGuard: keys kept on the node they belong to, the
// configuration of a device and its peers, and a userspace device (wireguard-go) on a TUN.
//
// Invariants:
//   - A private key lives in one file on its node, mode 0600: LoadOrCreateKey creates it there
//     and refuses a file that others can read. It is never printed: Config's String and
//     MarshalJSON leave it out, so a Config can be logged.
//   - A device's configuration is replaced whole (its peers too) by Configure, so what runs is
//     exactly the last Config given.
//
// Concurrency: a Device is safe for concurrent use; Config is plain data.
package wireguard
