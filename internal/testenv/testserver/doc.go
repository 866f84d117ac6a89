// Command testserver is the service of the container tests: a small HTTP server, built
// static so that it runs in an image FROM scratch (see testenv.StaticBinary and
// testenv.DockerImage). It uses the standard library only.
//
//	testserver [-listen ADDR] [-version]
//
// It serves /health (200 "ok"), /env (the environment, one NAME=value a line) and /
// ("hello from HOSTNAME"), prints "listening on ADDR" once it listens, and exits with status 0
// on SIGTERM or SIGINT. -version prints "testserver VERSION" and exits 0.
package main
