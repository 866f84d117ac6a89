// Package sshx is the controller's SSH layer: one multiplexed connection per remote node,
// strict host-key checking against known_hosts, key authentication, keepalives, and the
// operations later code builds on (Run, Start, DialUnix to the agent's socket, SFTP).
//
//	pool := sshx.NewPool(sshx.Options{KnownHosts: settings.KnownHosts})
//	defer pool.Close()
//	conn, err := pool.Get(ctx, sshx.Addr{Name: "db1", Host: "192.168.1.10", User: "deploy"})
//	res, err := conn.Run(ctx, "uname -m", nil)
//	nc, err := conn.DialUnix(ctx, "/home/deploy/.harness/agent/agent.sock")
//
// The states of a node (an Addr) in a Pool:
//
//	             Get                      handshake ok
//	(none) ─────────────▶ dialing ──────────────────────────▶ up ◀── Gets share the Conn
//	                       ▲  ▲  │                              │
//	                       │  │  │ dial failed                  │ Conn.Close, EOF, a transport
//	                       │  │  ▼                              │ error, KeepaliveMax keepalives
//	                       │  backoff ◀── Gets fail fast        │ unanswered, or Pool.Close
//	                       │  │   (ErrBackoff + last error)     ▼
//	                       │  └─ first Get after the window   ended
//	                       └─────────────── next Get ───────────┘ (no wait)
//
// Dialing: one dial per node at a time (Gets that come meanwhile wait for it, each up to its
// own ctx); the dial belongs to the pool, bounded by Options.HandshakeTimeout, and no more
// than Options.MaxHandshakes dials are in progress across the pool (the others queue), to stay
// below sshd's MaxStartups. Consecutive failed dials of a node are spaced by a backoff
// (Options.Backoff doubling to Options.MaxBackoff, plus jitter); a Get inside that window
// fails at once rather than waiting, with an error that wraps ErrBackoff and the last dial
// error, so a caller with its own retry policy is never held and still sees the real cause
// (ErrAuth, *HostKeyError). A successful dial resets the backoff, and so does Pool.Reset once
// the cause is mended (a dial already under way then fails unrecorded, and its callers dial
// again); a connection that ends is dialed again at the next Get without waiting.
//
// Host keys: the known_hosts file is read at each dial; the offered host-key algorithms are
// those of the known entries (github.com/skeema/knownhosts), so a host known by its RSA key
// is not asked for its Ed25519 key and then called changed. An unknown or changed key is a
// *HostKeyError (wrapping ErrUnknownHost or ErrHostKeyChanged) naming the host, the
// fingerprint and the remedy; ScanHostKey and Trust are the two halves of
// `harness hosts trust NODE`.
//
// Keys, in the order offered: the node's KeyFile, the keys of ssh-agent (SSH_AUTH_SOCK),
// then ~/.ssh/id_ed25519, id_ecdsa and id_rsa when they exist. A passphrase-protected
// KeyFile that the agent does not hold is an error naming the file; such a default file is
// skipped and named in the error of a failed authentication, which wraps ErrAuth, keeps
// x/crypto's text, and names user@host:port.
//
// Errors name the node: "node db1 (deploy@192.168.1.10:22): ...".
//
// Concurrency: a Pool and a Conn are safe for concurrent use, and every operation takes a
// ctx that bounds the caller's wait. Goroutines and their owners:
//
//   - Pool: one per dial in progress; Pool.Close aborts them and waits for them.
//   - Conn: one waits for the transport's end and marks the Conn ended; one sends the
//     keepalives (ending with the connection); one waits for each channel being opened or
//     session being waited for, and one per SFTP client to forget it when it ends. A Conn
//     owns them all; they end when the connection does, and Conn.Close (called by
//     Pool.Close for every connection) waits for them. Operations whose peer does not answer
//     (x/crypto takes no context) are left to these goroutines when ctx ends: the end of the
//     connection, by keepalive at the latest, ends them.
//   - Run copies its stdin on a goroutine that ends when stdin returns.
//
// No global state: everything lives in a Pool.
package sshx
