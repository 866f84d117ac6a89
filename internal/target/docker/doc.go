// Package docker is the target that runs a service instance as a container of a Docker
// engine, through the Engine API (github.com/moby/moby/client, API version negotiated,
// never pinned: the engines harness meets speak 1.41 and up).
//
// # A container's life and the Target's methods
//
//	Start(spec) ──▶ list containers labelled harness.stack=S, harness.service=X
//	   │              ├─ one runs with spec.ConfigHash ─▶ adopt: return its handle,
//	   │              │                                   resume the copy of its output
//	   │              └─ any other (stopped, older hash) ─▶ force-remove
//	   ▼
//	image.Ensure ─▶ named volumes ─▶ ContainerCreate "harness-S-X" ─▶ ContainerStart
//	   │                                 (a failure from here on removes the container)
//	   ▼
//	 running ◀──── Inspect: Running, PID of docker-init, IP, StartedAt
//	   │     ◀──── Exec: a command inside, output kept up to 64 KiB
//	   │     ◀──── Signal: ContainerKill(sig) to docker-init, which forwards it
//	   │
//	   │  Stop(grace): ContainerStop(stop signal, ⌈grace⌉ s), or ContainerKill(SIGKILL)
//	   │               for no grace; then the engine kills what is left
//	   ▼
//	 exited ◀───── Wait: ContainerWait(not-running) and the output stored up to the exit
//	   │     ◀──── Inspect: Exit{Code, Signal, At}; Stop again: nothing to do
//	   ▼
//	Remove: ContainerRemove (not its volumes) ──▶ gone: every handle of it is ErrNotFound
//
// A Handle is {Target: "docker", Node, ID: the full container ID}; a short ID or a name is
// never accepted, so that the engine cannot match another container by prefix or name.
//
// # Labels and adoption
//
// A container carries harness.stack, harness.service, harness.config-hash,
// harness.log-path and harness.stop-signal, and the spec's labels. The labels are the
// durable state: a Target value that did not start a container finds its log and its stop
// signal on it, so a daemon that restarts adopts its containers by calling Start with the
// same specs. There is one container per service (its name), and Start clears leftovers
// before it creates one, so a leftover never causes a name conflict.
//
// docker-init (HostConfig.Init) is the container's PID 1: it reaps orphans and forwards
// signals to the service. When the service exits, the init exits, and with the PID
// namespace's init gone the kernel kills every other process of the container: Stop ends
// grandchildren too. There is no restart policy: harness supervises.
//
// # Output
//
// A goroutine per container started or adopted follows the engine's log stream
// (ContainerLogs, Follow), demultiplexes it with stdcopy into two pipes and drains them into
// a logfile.Writer on the container's log path, so `harness logs -f` reads containers and
// processes alike; harness's own notes (image progress, "exited with status N" for an exit
// Stop did not cause) go to the same file. The engine ends the stream once the container has
// stopped and the stream has caught up; Wait and Stop wait for that (copyWaitLimit at most),
// so the output up to the exit is stored when they return.
//
// A Target that adopts a running container resumes the copy from the time of the last line
// stored (the engine's `since`). The stored time is when harness read the line, a moment
// after the engine stamped it, so nothing stored is copied again (but a line the engine
// stamped with the very same time); a line the engine stamped within that moment before the
// last stored one, and that the old copy had not stored when it stopped, is lost.
//
// # Exit status
//
// The engine, and docker-init, report a process killed by signal N as status 128+N. Statuses
// 129 … 192 are therefore reported as Exit{Code: -1, Signal: "SIGN…"}: a service that
// exits with such a status of its own accord (exit(137)) is reported as killed, because the
// status cannot tell the two apart. A program the image lacks is found by docker-init once
// the container runs: it exits with status 127, and says why in the log.
//
// # Networks
//
// EnsureNetwork creates a bridge network labelled harness.stack, on the given subnet or on
// the first free /24 of 172.16.0.0/12 and 192.168.0.0/16 (free: no network of the engine
// and, for a local engine, no route of this host overlaps it); either way the subnet is
// configured on the network, since the engine honours a container's fixed address
// (Container.IP) only on such a subnet. RemoveStack
// removes a stack's networks (one in use is left) and, when asked, its named volumes.
//
// # Concurrency
//
// Every method may be called from any goroutine. Start is serialized per container name and
// EnsureNetwork per network name. The goroutines are the log copies, one per container, each
// owned by the Target: it ends when its stream ends or on Close, which waits for them. A
// reader returned by Logs owns its feeding goroutine; Close on it ends it. Exec reads its
// output stream on the caller's goroutine and closes the stream when ctx ends.
package docker
