// Package cli is the harness command line: the cobra command tree, one file per verb, and
// the formatting of what each command reports, as a table for people or as JSON with -o json.
//
// The package formats only; it does no orchestration. A command reads the config through
// package config (validate, config) or talks to the daemon only through package client (up,
// start, stop, restart, down, status, logs, exec, health, daemon): it never starts, stops or
// probes a service itself. Where a command combines requests, it decides only which requests
// to send: a foreground up (up.go) sends a start, follows the output of the services of the
// answer, and on SIGINT or SIGTERM (or when the context of Main ends) sends one stop naming
// the services that the start started or recreated, never those it kept; the daemon orders
// the stop.
//
// Every request names the stack by the absolute path of its services file and carries the
// command's environment (api.Stack), so the daemon reads ${VAR} and gives processes the
// environment of the user's shell. A missing services file is reported here, before any
// daemon is asked; every other problem of the file comes back from the daemon as
// api.ErrInvalidConfig and is printed as it is, one FILE:LINE:COL: message per line.
//
// The daemon on demand (daemon_spawn.go): a command that needs the daemon asks the data dir's
// socket first; when nothing answers, it runs its own executable as `harness daemon run
// --data-dir DATA` in a new session (stdin /dev/null, output appended to DATA/daemon.log, the
// data dir made 0700 first) and polls the socket every 10 ms for up to 10 s. A daemon that
// exits first, or a data dir that cannot be made or written, fails the command with exit
// status 4 and the real cause (the error, or the end of what the daemon wrote). `daemon run`
// itself calls Options.RunDaemon: the CLI does not import the daemon.
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
// exec is the exception: once its command ran, harness exits with the command's exit code.
//
// Errors print on stderr as "harness: <cause chain>"; an invalid config prints every
// diagnostic, one per line, then "harness: N errors". With -o json, stdout holds only the
// JSON document (JSON lines for logs and a foreground up) and every human message goes to
// stderr.
//
// Concurrency: Main builds a fresh command tree on every call and shares nothing between
// calls, so concurrent calls with distinct Options are safe. A command runs in one goroutine;
// a daemon it starts is polled for, never waited on by a goroutine, and outlives it. The
// commands that wait for a signal (up, daemon run) use signal.NotifyContext, whose goroutine
// ends with the command; up also resets the signals to their default action at the first one
// (context.AfterFunc), so that a second Ctrl-C ends the process at once.
package cli
