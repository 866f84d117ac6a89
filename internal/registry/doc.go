// Package registry is the durable record of every service instance harness runs: one Record
// per instance (its node, durable handle, state, health, restarts, last exit, endpoints), a
// persisted log of every change, and watchers that follow that log from any retained revision.
//
// A restarted daemon reads its records to adopt what is still running; the API's event stream
// and `status` read the same records and follow the same log.
//
// The package is bbolt through and through, with no store interface below it: a record and
// its event commit in one bbolt transaction, and the watchers' hand-over relies on the lock that
// writers hold across that transaction. Another backend (etcd) would implement this package's
// API beside it rather than plug in underneath.
//
// # Storage
//
// One bbolt file, opened by one process at a time (a second opener fails after
// Options.LockTimeout with ErrLocked, naming the file). Values are JSON, so the file can be
// read with the `bbolt` CLI. Buckets:
//
//	records   key   STACK 0x00 SERVICE 0x00 INSTANCE   INSTANCE as 10 decimal digits, zero-padded
//	          value Record as JSON
//	events    key   revision as 8 bytes big-endian
//	          value Event as JSON
//	          the bucket's sequence (bbolt NextSequence) is the current revision
//	ipam      one nested bucket per address pool of network.IPAM, named for the pool
//	          ("bridge:STACK", "mesh:NAME"), holding
//	          key   owner
//	          value the owner's address as text ("172.30.0.2", "fd00::1")
//	          a pool's bucket is deleted with its last address
//	meta      "format" → "1", the layout version; Open refuses any other
//
// The ipam bucket came after format 1: Open creates it in a file that lacks it, and the format
// stays "1", since the change only adds a bucket that a binary predating it never reads. A
// bump would make such a binary refuse the file for nothing.
//
// Names may not contain 0x00 and 0x00 sorts before every other byte, so records sort by stack,
// then service, then instance (numerically: the digits are fixed-width), exactly as Key values
// compare field by field; List returns them in that order.
//
// # Invariants
//
//   - Every successful Put and Update (also one whose function changed nothing) and every
//     Delete of a present key takes the next revision of one counter, the events bucket's
//     sequence. Revisions start at 1, never repeat and never go back, also across Close and
//     Open. A Delete of an absent key, an Update whose function fails and a rejected key
//     consume no revision (their transaction is rolled back, sequence included).
//   - The record and its event are written in the same bbolt transaction. An event reaches
//     watchers only after that transaction committed, and bbolt fsyncs on commit: durable
//     before announced. Concurrent writes share transactions (group commit): the first writer
//     to find no commit in progress commits every queued write, its own first, in one
//     transaction and one fsync per batch; each write keeps its own revision and event, and a
//     write whose decision fails does not fail the others of its batch.
//   - Each revision has exactly one event, and an event's Record.Revision equals its Revision.
//     For a delete, Record is the record as it was, with Revision and UpdatedAt of the delete.
//   - The log holds the contiguous revisions [oldest, current], and at most
//     Options.KeepEvents of them. Trimming happens inside each write transaction: after
//     appending revision N, events ≤ N-KeepEvents are deleted from the front of the bucket
//     (one per write in the steady state; more once after KeepEvents was lowered).
//   - Every Record handed out (returned or in an Event) is the caller's own copy: no slice or
//     pointer is shared with the registry or with another caller.
//   - Address allocations (IPAMStore) are not records: their writes take no revision, make no
//     event and are not watched. An IPAMStore.Update is one bbolt transaction, durable
//     (fsynced) before it returns; one whose function fails, or changes nothing, writes
//     nothing.
//
// # Watching
//
// Watch(ctx, since) delivers exactly the events with revision > since, in order, with no gap and
// no duplicate: first the backlog read from the log, then live events. The hand-over is
// race-free because writers hold the registry's write lock from the start of their transaction
// until they have published its event, and Watch registers the watcher under that same lock:
// at registration the current revision R is committed and published, every later event (> R)
// is delivered to the watcher's live buffer, and the watcher's goroutine replays (since, R]
// from the log in short read transactions before forwarding the live buffer. A since older
// than the retained log fails at once with ErrCompacted; the caller re-lists (List returns the
// revision of its snapshot) and watches from that revision. A since beyond the current revision
// fails with ErrFutureRevision.
//
// Slow-subscriber policy: writers never block on a watcher. Each watcher has a buffer of
// Options.WatchBuffer live events; when a write finds it full, that watcher is cut off at once:
// its Events channel is closed and Err returns ErrSlow. Events that were already buffered are
// not delivered, and nothing is ever dropped silently: the caller resumes with
// Watch(ctx, last revision it saw) and the durable log replays the rest. Live events also
// accumulate while a watcher replays its backlog, so a long backlog read slowly while writers
// are busy can end in ErrSlow too; resuming still makes progress, since every event delivered
// before the cut-off stays delivered. When the log was trimmed past a watcher's position
// while it replayed, Err returns ErrCompacted.
//
// # Concurrency
//
// All methods are safe for concurrent use. Writes are serialized (bbolt allows one write
// transaction at a time anyway); Get and List read a consistent snapshot and never wait for a
// writer's fsync. Update's function runs inside the write transaction with the write lock held:
// it must not call the Registry. IPAMStore.Update runs a write transaction of its own rather
// than a write of the committer's (it needs no revision, event or write lock); bbolt runs one
// write transaction at a time, so the two take turns. Its function, too, runs inside the
// transaction and must not call the Registry. Each watcher has one goroutine, owned by the
// Registry: it ends when the watcher's ctx ends, when the watcher is cut off, or when the
// Registry is closed; Close cuts off every watcher (Err returns ErrClosed), waits for their
// goroutines and the IPAM transaction in progress, and then closes the file. Close is
// idempotent; every other method returns ErrClosed after it.
package registry
