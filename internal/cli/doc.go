// Package cli is the harness command line: the cobra command tree, one file per verb, and
// the formatting of what each command reports, as a table for people or as JSON with -o json.
//
// The package formats only; it does no orchestration. A command reads the config through
// package config and, once the daemon exists, talks to it only through package client: it
// never starts, stops or probes a service itself.
//
// Everything the command line needs from the process comes in through [Options]: arguments,
// standard streams, environment and version. Nothing reads os.Args, os.Getenv or the real
// standard streams, and there are no globals or init-time registrations, so tests run [Main]
// in process with buffers, and the end-to-end scripts under testdata/script run the same
// function as a real binary.
//
// Exit codes (cli.md), set in one place, exitCode in exit.go:
//
//	0  ExitOK             success
//	1  ExitError          any other runtime error
//	2  ExitUsage          usage error (unknown command or flag, wrong arguments) or invalid config
//	3  ExitServiceFailed  a service failed to start, exited, turned unhealthy, or was blocked
//	4  ExitUnreachable    the daemon or a host could not be reached
//	5  ExitTimeout        a startup or stop timeout
//
// Errors print on stderr as "harness: <cause chain>"; an invalid config prints every
// diagnostic, one per line, then "harness: N errors". With -o json, stdout holds only the
// JSON document and every human message goes to stderr.
//
// Concurrency: Main builds a fresh command tree on every call and shares nothing between
// calls, so concurrent calls with distinct Options are safe.
package cli
