// Package harness is the embedding facade of Graph Network Harness: it lets a Go program do
// what the harness CLI does, in process. New(ctx, Options) loads a stack (a services.yaml or a
// config.Stack built in code) and returns a Manager whose Start, Stop, Status, Watch and Logs
// drive the same orchestrator as the daemon, and whose Close stops supervision while leaving
// the services running, adoptable by the next Manager or daemon on the same data dir.
//
// A Manager owns its data dir (the registry database and the services' logs): two Managers on
// one data dir are refused. Its methods are safe for concurrent use. Process services run
// today; Docker, remote and package services arrive with their issues (their start is an
// error that says so).
package harness
