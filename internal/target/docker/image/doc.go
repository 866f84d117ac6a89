// Package image makes sure the image of a container service is on the Docker engine before
// the container is created: an image that is present is used as it is; a service with a
// build context gets an image built through the Engine API and tagged by the hash of its
// context, so that an unchanged context is not built again; any other image is pulled, with
// progress, only when it is absent.
//
// # Built images
//
// A build is named harness/STACK-SERVICE:HASH. HASH is the first 12 hex digits of a sha256
// over the Dockerfile's path, the sorted build args and the build context exactly as the
// engine receives it: the tar stream itself, which is reproducible (entries in walk order,
// mtimes at the epoch, uid and gid 0, no user or group names), so touching a file changes
// nothing and changing its content, mode or name changes the tag. Labels are not hashed: a
// label that changes on every run would otherwise defeat the cache.
//
//	Ensure ──▶ scan context ──▶ hash ──▶ tag present? ──yes──▶ tag Container.Image, return tag
//	                                         │no
//	                                         ▼
//	                           tar ──io.Pipe──▶ ImageBuild ──▶ messages ──▶ return tag
//
// The context is scanned once (context.go): .dockerignore is honoured as the docker CLI does
// (patternmatcher, `!` re-includes, an excluded directory is walked only when a `!` pattern
// may re-include something under it), and the Dockerfile and .dockerignore are always sent.
// Regular files, directories and symlinks (as links, never followed) are sent; sockets,
// devices and pipes are not. Names come from walking an os.Root, so no entry can name a path
// outside the context, and files are opened through that root. Files are streamed, never read
// whole. A file that changes between the hash and the build is sent as it is then; the tag
// still names what was hashed.
//
// # Concurrency
//
// Ensure is safe for concurrent use. Calls for the same reference on the same engine at the
// same time share one inspect and one pull or build (flight.go); each caller's note receives
// the shared progress, notes are never called concurrently and never after that caller's
// Ensure has returned. A caller whose ctx ends stops waiting at once; the shared work is
// cancelled, and waited for, when its last caller has gone. This table of flights is the
// package's only state: the engine is shared by the whole process, and so is the knowledge of
// what is being built on it.
package image
