// Package agent is the node runtime of a remote host: `harness agent run` serves the
// operations of the host's targets (process, docker) on a unix socket, and Client is the
// controller's side of it, whose Target values implement target.Target over the socket, so
// that the orchestrator drives a remote host as it drives the local one.
//
//	controller (daemon)                              remote host
//	┌───────────────────────┐   SSH: one connection  ┌──────────────────────────────────┐
//	│ orchestrator          │   per host; a channel  │ harness agent run --dir ~/.harness/agent
//	│   └ Client.Target(..) ├──▶ per HTTP connection ─▶  DIR/agent.sock (0600)         │
//	│       HTTP + JSON     │   (direct-streamlocal, │    └ node.Local targets ── services
//	└───────────────────────┘   or `agent dial`)     │  DIR/instances, DIR/logs/STACK/… │
//	                                                 └──────────────────────────────────┘
//
// The protocol is HTTP/1.1 + JSON: POST /v1/NAME with one request object, one response
// object (wire.go); logs stream the stored lines ("TIME STREAM TEXT\n") with chunked
// encoding, flushed as they come. An error answer carries the message and the kind of the
// target sentinel it wrapped (ErrNotFound, ErrInvalidSpec, ErrUnsupported), so errors.Is
// works on the controller. A Wait is a request that lasts until the instance exits; ending
// its context closes the connection, which ends the Wait on the agent.
//
// Handles: to the agent its host is "local"; the Client shows handles under the node name the
// controller knows the host by, and translates back. The agent keeps no state of its own
// beyond its targets': the process target's instance files and the containers' labels are
// what a restarted agent adopts from. The services keep running when the agent ends.
//
// One agent per dir: the dir's lock (lockfile) makes a second `agent run` fail at once.
//
// Concurrency: the server handles each request on its own goroutine, on targets that are safe
// for concurrent use. A Client is safe for concurrent use; the http.Transport owns its
// connections.
package agent
