// Package api holds the wire types of the harness daemon's API: what the CLI (through package
// client) and any other program send to and receive from a daemon, as JSON over HTTP/1.1 on
// the daemon's unix socket (DATA/harness.sock).
//
// Every request names the stack it is about by its services file and carries the caller's
// environment, so that ${VAR} in the file and the environment of the processes it starts come
// from the caller's shell, not from the daemon's. A request that fails as a whole gets an
// Error with an HTTP status from one table (see Code); a start or stop in which some services
// failed is not such a failure: its response lists what happened to each service.
//
// The package imports only the standard library, so that any Go program can speak to a
// daemon without taking harness's dependencies.
package api
