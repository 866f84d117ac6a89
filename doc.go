// Package harness is the embedding facade of Graph Network Harness: it lets a Go program do
// what the harness CLI does, in process. New(ctx, Options) loads a stack (a services.yaml or a
// config.Stack built in code) and returns a Manager whose Start, Stop, Status, Watch and Logs
// drive the same controller as the daemon — processes, Docker containers and remote hosts in
// one dependency graph and one address space — and whose Close stops supervision while leaving
// the services running, adoptable by the next Manager or daemon. The facade is planned and not
// written yet; the packages it stands on are config, target, api and client, and everything
// under internal/ stays free to change behind it.
package harness
