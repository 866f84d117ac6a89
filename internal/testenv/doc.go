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
// # Test hosts
//
// The SSH and agent tests need several machines; a LAN makes them on this one:
//
//	lan := testenv.NewLAN(t, "nodes")  // bridge, fresh 10.x.y.0/24, client key, known_hosts
//	a := lan.Host(t, "a")              // netns + veth, own hostname, own /root /tmp, own sshd
//	// ssh -i lan.KeyFile -o UserKnownHostsFile=lan.KnownHosts root@a.Addr  (strict checking works)
//	a.Path("/root/.harness/agent")     // where that file of a is on the real filesystem
//	a.Command(ctx, "ls", "/root")      // runs inside a (nsenter into its sshd's namespaces)
//	a.Cut(t); a.Restore(t)             // pull and replug a's cable: TCP stalls, no reset
//	a.Kill(t, syscall.SIGKILL, "harness agent")
//
// A host is a network namespace whose eth0 is a veth on the LAN's bridge, with a real
// /usr/sbin/sshd in new mount and UTS namespaces: its hostname is its name, and /root, /tmp and
// /run/wireguard are bind mounts of directories of its own, so what harness installs in one
// host's home is not in another's. The rest of the filesystem and the pid space are shared:
// the test sees the host's processes (Pids, Kill). The controller, the test process, reaches
// hosts from the root namespace through the bridge, from LAN.Gateway, which is also the hosts'
// default route; hosts reach each other on the bridge.
//
// sshd reads its config, host key and authorized_keys inside the host, where /tmp (and so
// t.TempDir) is hidden: they live in /run/harness-test/LAN/HOST (Host.Dir), with sshd's log
// (sshd.log), whose tail goes into the test log when a helper or the test fails. Programs in the
// test's /tmp (go test's binaries) must be copied to a host path (Path) to run inside a host.
//
// A host can have its own Docker engine: a.Docker(t) starts a dockerd (and its containerd)
// inside a, in new PID and mount namespaces under docker-init, and returns its DOCKER_HOST for
// the test process, unix://Dir/run/docker.sock. It is a's default engine: a's /run becomes a
// private bind of Dir/run holding the machine's /run entries but Docker's and containerd's, so
// every program of a reaches it at /var/run/docker.sock, and the machine's /run is untouched.
// Containers publish their ports on a's addresses only, reached at a.Addr from the test
// process. Data root Dir/docker, storage driver overlay2 (vfs where overlay mounts fail), log
// Dir/dockerd.log; containers' cgroups are under /NETNS in each hierarchy. When the test ends,
// dockerd gets SIGTERM (it stops the containers) and, after 30s, its PID namespace is killed,
// which takes containerd, the shims and the containers with it, also when a later NewLAN reaps
// a killed test's hosts; the cgroups are then removed, or by the next Docker on the machine.
//
// The subnet is picked under a machine-wide lock (/run/harness-test/lock) among the /24s of
// 10.0.0.0/8 that overlap no route, and its route exists before the lock is released, so
// parallel tests and test binaries never share one. NewLAN also inserts an iptables FORWARD
// ACCEPT rule for its bridge, since a running dockerd drops bridged traffic otherwise.
//
// Cleanup, by t.Cleanup: every process in a host's namespace is SIGKILLed and waited for, then
// its veth, namespace and directory go; then the LAN's firewall rule, bridge and directory. A
// test process killed before its cleanup leaves all that behind: each LAN's directory names its
// owner process, and the next NewLAN on the machine removes the LANs whose owner is gone. Left
// in place on purpose: /run/harness-test/lock, and the mount points /run/sshd (Debian's sshd
// needs it) and /run/wireguard, which other hosts or the system may be using.
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
//     namespaces are named harness-test-NAME-RANDOM, bridges htRANDOM, veths hvRANDOM, so
//     parallel tests and parallel test binaries never share one.
//
// Only test code may import this package; the root arch_test.go enforces that.
//
// Concurrency: every helper is safe to call from parallel tests. A Namespace is immutable after
// creation; its Exec may be called from several goroutines. A LAN's exported fields are
// immutable; its Host may be called from parallel subtests, and KnownHosts is replaced
// atomically as hosts are added. A Host's fields are immutable and its methods may be called
// from several goroutines.
package testenv
