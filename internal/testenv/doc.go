// Package testenv is the real test infrastructure of harness: a Docker engine, network
// namespaces that act as separate hosts, and the programs the integration tests drive (OpenSSH
// sshd, ip, wg). Tests ask for what they need and get it, or are stopped:
//
//	host := testenv.Docker(t)         // "unix:///var/run/docker.sock"
//	ns := testenv.Netns(t, "db")      // a fresh network namespace, deleted by t.Cleanup
//	out, err := ns.Exec(ctx, "ip", "-o", "addr").Output()
//	sshd := testenv.Command(t, "sshd")
//	bin := testenv.StaticBinary(t, "./testserver") // static: it runs in an image FROM scratch
//	testenv.DockerImage(t, host, "harness-test-x:"+suffix, map[string]string{"/srv": bin}, []string{"/srv"})
//
// Nothing can be pulled in CI, so container tests build their images FROM scratch around
// static Go binaries: their own test binary (StaticTestBinary) or testserver, a small HTTP
// server in this package's testserver directory.
//
// Invariants:
//
//   - Missing infrastructure skips the test locally and fails it when the CI environment
//     variable is set (house rule 8). The decision is made in one place, missing, and the
//     message says what is missing and that `sudo ./scripts/test-all.sh` provides it.
//   - Whatever a helper creates is removed by t.Cleanup, also when the test fails.
//   - Tests send traffic only to loopback or to hosts they created in their own namespaces:
//     namespaces are named harness-test-NAME-RANDOM, so parallel tests and parallel test
//     binaries never share one.
//
// Only test code may import this package; the root arch_test.go enforces that.
//
// Concurrency: every helper is safe to call from parallel tests. A Namespace is immutable after
// creation; its Exec may be called from several goroutines.
package testenv
