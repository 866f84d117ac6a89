// Package httpapi serves the daemon's API (package api) over HTTP/1.1 and JSON, on the unix
// socket of the daemon's data dir. It translates only: it decodes requests, asks a [Backend]
// (the daemon) and encodes what it answers. It holds no state of its own.
//
// Requests are JSON bodies of at most [MaxRequestBytes]. Unknown fields are accepted, so that
// a newer client can talk to an older daemon; a body that is not one JSON value is
// CodeBadRequest. The Logs endpoint streams JSON lines (application/x-ndjson), flushed line
// by line, until the Backend returns or the client goes away (see api.LogEvent for its last
// line on an error). Shutdown answers first and then calls Backend.Shutdown.
//
// Errors go through one table, errorOf: an *api.Error anywhere in the chain of the Backend's
// error gives the code, and the code gives the status (api.Code.Status); any other error is
// CodeInternal. The message is the whole error, so the client sees the real cause.
//
//	code             status  when
//	bad_request      400     malformed JSON, a body too large, a wrong method (sent as 405)
//	not_found        404     no such service; no such endpoint
//	conflict         409     the request contradicts the daemon's state
//	invalid_config   422     the services file does not load
//	internal         500     anything that is not an *api.Error
//	unavailable      503     the daemon is shutting down
//
// Concurrency: the handler of NewHandler serves requests concurrently, as net/http does; it is
// as safe as the Backend's methods are. Listen is safe to call from any goroutine.
package httpapi
