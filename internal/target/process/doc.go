// Package process is the target that runs a service instance as a process of this host.
//
// Start execs Spec.Argv directly, never through a shell, in a process group of its own
// (Setpgid), with exactly Spec.Env, in Spec.Dir, as Spec.User (root only). Its stdout and
// stderr are pipes drained into a logfile.Writer on Spec.LogPath, which creates
// the file at the first line (a quiet service costs no file), with a note of harness's own
// for an exit that Stop did not cause ("exited with status N", "killed by SIGSEGV"). No
// parent-death signal is set: instances outlive the supervisor, and a new Target adopts them
// from their Handle. The service holds a read end of each of its output pipes at descriptors
// 3 and 4, so that a pipe never loses its last reader when the supervisor goes: the service
// does not die of SIGPIPE; its pipe fills and it waits until a Target that adopts it takes the
// read ends back (pidfd_getfd) and drains them again (keep.go).
//
// # Identity
//
// A Handle's ID is "PID:STARTTIME", STARTTIME being field 22 of /proc/PID/stat (clock ticks
// from boot to the process's start). A PID is reused once its process is reaped; the start
// time tells the new process apart. Every operation checks it before it reports on or
// signals a process, so a stale handle is ErrNotFound and never touches another process.
//
// The process group is the leader's PID. That number is safe to signal while the leader
// runs (its start time pins it) and, after the leader's exit, while other members remain
// (the kernel does not reuse a number that names a live group). The group is looked at the
// moment the leader's exit is seen; once it is seen empty, its number is never signalled
// again.
//
// # Watching
//
// Start forks and execs with syscall.ForkExec, not os/exec: the descriptors are handed to
// the child as they are (os/exec would make the read ends blocking), and a start costs less.
// A Target watches every instance with one epoll set of its own (poll.go), waited on by one
// goroutine: the pidfd of the leader, and the read end of each output pipe. A quiet
// service costs no goroutine at all. When a pipe turns readable, a goroutine drains it until
// it is empty and arms it again; when a pidfd turns readable, a goroutine reaps the child
// with wait4 and fans the real exit status out to every Wait caller and to Inspect. An
// adopted process, which is not our child, is watched through a pidfd the same way, and its
// exit is reported as Code -1: only a parent learns the status.
//
// # The stop sequence
//
//	Stop(h, grace)
//	   │  verify start time (a reused PID: ErrNotFound, nothing signalled)
//	   ▼
//	kill(-pgid, stop signal) ──────────────┐   stop signal: Spec.StopSignal, default SIGTERM;
//	   │                                   │   for an adopted instance, from the journal
//	   ▼                                   │
//	leader exited? ── no, grace over ──────┤
//	   │ yes                               │
//	   ▼                                   ▼
//	group empty? ──── no, grace over ──▶ kill(-pgid, SIGKILL)
//	   │ yes  (polled: 1 ms … 50 ms)        │
//	   │                                   ▼
//	   │                              leader exited, group empty (no deadline but ctx)
//	   ▼                                   │
//	own child: output drained ◀────────────┘
//	   ▼
//	return nil
//
// "Group empty" means no member that is not a zombie: a killed grandchild whose new parent
// never reaps it (an init that does not) stays a zombie forever, and must not hold Stop.
//
// Limits: a descendant that leaves the group (setsid, as a classic daemon does) escapes
// Stop, as it escapes every group-based supervisor; and when the leader exited while no
// Target watched it (the supervisor was down), what is left in its group is not signalled,
// because nothing proves any more that the group's number is still the instance's.
//
// # Journal
//
// Options.StateDir holds a journal per Target value: a JSON line per instance started (its
// stop signal and log path, for a Target that adopts it) and per instance removed. The
// environment is not kept (it may hold secrets; an adopter reads /proc/PID/environ for
// Exec). One append per Start, where a file per instance would cost an inode: on some
// filesystems as much CPU as the fork. The journal of a gone Target (its flock is free) is
// folded into the next Target's own journal; a journal full of removed instances is
// rewritten. See journal.go.
//
// # Concurrency
//
// Every method may be called from any goroutine, for any handles, at the same time. Every
// goroutine has an owner that waits for it: the poller's (ends at Close), and the ones it
// starts: a drain of a pipe that turned readable (ends when the pipe is empty), the reaper
// of an own child (ends when the child is reaped and its output drained: when the child and
// every descendant holding the pipes have exited — Stop kills the whole group, so the pipes
// close), the watcher of an adopted process (ends at its exit, or after its output). Close
// ends them all and waits. The reader of Logs owns its feeding goroutine; Close on it ends
// it.
package process
