// Package target is the boundary between harness and the things that run a service instance:
// a local process, a Docker container, and whatever an embedder adds. A Target starts an
// instance from a Spec and from then on knows it only by its Handle, a small serializable
// value that is stored in the registry, so that a new Target value — in a restarted daemon or
// agent — adopts the running instance instead of starting a second one.
//
// Life of an instance, as a Target sees it:
//
//	Start ──▶ running ──(exits by itself)──▶ exited ──Remove──▶ gone
//	             │                               ▲
//	             └──Stop: stop signal, grace, kill┘
//
// Invariants: Stop returns only when nothing of the instance runs any more; stopping an
// exited instance succeeds; a Handle that no longer refers to the instance it was made for
// (a process whose PID was reused) yields ErrNotFound, never another process.
//
// Concurrency: every method of a Target may be called from any goroutine, for any handles, at
// the same time. Implementations ship with the conformance suite in
// internal/target/targettest and a compile-time guard var _ target.Target = (*T)(nil).
package target
