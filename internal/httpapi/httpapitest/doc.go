// Package httpapitest serves a scriptable fake of the daemon (a [Backend]) through the real
// handler of internal/httpapi, on a unix socket, for the tests of the API's clients: package
// client and the CLI. Only _test.go files import it.
//
// Concurrency: a Backend's methods are safe for concurrent use once its fields are set; a
// Server's Close may be called from any goroutine.
package httpapitest
