// Package daemon is the composition root of the harness daemon: one per data dir. Run takes
// the data dir's lock, opens the registry, builds the local node's targets, serves the API of
// package api on DATA/harness.sock (internal/httpapi), and supervises every stack it is asked
// about, each with an orchestrator of its own.
//
// A stack is known by its name. The first request about it loads its services file with the
// caller's environment and starts an orchestrator, which adopts what the registry records as
// running (same PIDs, no duplicates) and resumes probes and restart policies. A start reloads
// the file, with the environment of the command that asked, so that ${VAR} and the processes'
// environments come from the user's shell.
//
// Lifetime: Run returns when its context ends or a client asks for a shutdown. Either way it
// stops supervision only: services keep running, and the next daemon adopts them.
//
// Data dir layout: daemon.lock (the lock, with the PID), harness.sock, registry.db,
// instances/ (the process target's journals), logs/STACK/SERVICE.log, daemon.log (written by
// whoever started the daemon in the background).
//
// Concurrency: every Backend method is safe for concurrent use; stacks are guarded by one
// mutex, held only to look up or add a stack, never across a start or a stop.
package daemon
