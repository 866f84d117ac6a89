// Package targettest is the conformance suite that every target.Target implementation
// passes, and a scriptable fake Target for the unit tests of the Target's users.
//
// # The suite
//
// Run drives a Target through a Harness: New makes a fresh Target value (two values must see
// the same instances, as a daemon and its restarted successor do), and Spec makes the spec of
// a service that acts a Behaviour: exit with a code, die of SIGKILL, run until SIGTERM,
// ignore SIGTERM, leave a grandchild behind, flood its output, print a line. A target that
// runs real processes uses the test binary itself as the service: its TestHelperProcess
// calls HelperMain, and Behaviour.Env selects what the process does.
//
// The suite checks the contract of package target: exit codes and signals are reported as
// Exit says; Stop honours the stop signal, kills after the grace, and returns only when
// nothing of the instance runs (grandchildren included); output never blocks a service and
// all of it reaches Logs; a fresh Target adopts a Handle; a handle whose PID was reused is
// ErrNotFound and never touches the process that now has the PID; stopping an exited
// instance succeeds; a removed instance is ErrNotFound; twenty concurrent Starts work.
//
// Logs must yield one line per line of output, "TIME STREAM TEXT", where STREAM is "stdout",
// "stderr" or "harness" (the format internal/logfile stores). A running Behaviour prints the
// line Ready on stdout once its signal handling is set up; the suite follows Logs until it
// appears before it signals a service, so that no test races the service's start.
//
// No test asserts that anything is fast. Time appears only as lower bounds ("Stop returned
// after the grace") and as generous bounds that turn a hang into a failure.
//
// # The fake
//
// Fake simulates instances: nothing runs. Each service follows a Script (fail to start, exit
// after a while with a code or a signal, ignore the stop signal, print output, answer Exec);
// tests can end an instance with Fake.Exit and read the calls made with Fake.Calls. Fakes
// made by Fake.Restarted share one simulated host, which is how the fake is adopted. Time is
// the clock of the caller, so the fake works inside a testing/synctest bubble.
//
// Concurrency: Run starts its subtests in parallel; every method of a Fake is safe for
// concurrent use. A Fake owns no goroutine: timers end simulated instances.
package targettest
