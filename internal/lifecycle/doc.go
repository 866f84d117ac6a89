// Package lifecycle defines the states of a service instance, its health, and the transitions
// between them that are legal. Whoever records a state change checks it with Transition first,
// so that no status, event or registry record shows a history that cannot happen.
//
// State and Health are strings whose values are the "state" and "health" fields of
// `harness status -o json`: they are part of the CLI and API contract.
//
// Invariants:
//
//   - The transition tables are one data structure per machine, in this package's source;
//     States, Healths, Valid and CanTransition all read them, and a test checks the drawings
//     and the lists below against them.
//   - Nothing changes to itself. An update that leaves a state (or a health) as it is, is not a
//     transition: callers skip it, and Transition rejects it so that a duplicate event is a
//     visible bug.
//   - A value that is not Valid, including the zero value "", changes to nothing and nothing
//     changes to it. A record always names its state explicitly.
//   - Every start goes through Starting: Exited, Failed and Blocked lead only to Starting or
//     Stopped, and Stopped only to Starting or Blocked. Running is left only for Stopping,
//     Exited or Failed, and Stopping only for Stopped or Failed.
//   - State and health are separate: Running says the instance runs, Health says whether it is
//     ready.
//
// Concurrency: State and Health are immutable values, and the tables are never written after
// package initialization, so every function and method is safe for concurrent use.
//
// # State machine
//
// The box "not active" holds the states whose Active is false. An arrow to or from a box that
// holds states stands for one arrow to or from each state in it. A line with a head at each end
// is two transitions, one each way. Lines that join at a + lead from each of their tails to the
// head.
//
//	+- not active --------+
//	|                     |
//	|       +---------+   |
//	|   +-->| stopped |<-----------------------------------------------------+
//	|   |   +---------+   |                                                  |
//	|   |        |        |                                                  |
//	|   |        v        |                 +-----------------------+        |
//	|   |   +---------+   |                 |                       v        |
//	|   +---| blocked |   |          +----------+    +---------+    +----------+
//	|   |   +---------+   |<-------->| starting |--->| running |--->| stopping |
//	|   |   +---------+   |          +----------+    +---------+    +----------+
//	|   +---| exited  |<-----------------------------------+  |          |
//	|   |   +---------+   |                                   |          |
//	|   |   +---------+   |                                   |          |
//	|   +---| failed  |<--------------------------------------+----------+
//	|       +---------+   |
//	|                     |
//	+---------------------+
//
// Transitions:
//
//	stopped  → starting  start requested
//	stopped  → blocked   start requested while a dependency has failed
//	starting → running   launched
//	starting → failed    could not be started, or ended otherwise before it was seen running
//	starting → exited    ran and completed before it was seen running
//	starting → stopping  stop requested after something was launched
//	starting → stopped   start cancelled before anything was launched
//	starting → blocked   a dependency failed while it waited
//	running  → stopping  stop requested
//	running  → exited    ended by itself with status 0
//	running  → failed    ended by itself otherwise
//	stopping → stopped   nothing of it runs any more
//	stopping → failed    it could not be stopped
//	exited   → starting  restart, or a new start
//	exited   → stopped   cleared by stop or down
//	failed   → starting  restart policy, or a new start
//	failed   → stopped   cleared by stop or down
//	blocked  → starting  the dependency recovered, or a new start
//	blocked  → stopped   cleared by stop or down
//
// # Health machine
//
// The box "checked" holds the healths of an instance whose check runs; the conventions are the
// same as above.
//
//	             +- checked --------------------------------+
//	             |                                          |
//	+------+     |              +----------+                |
//	| none |------------------->| starting |                |
//	+------+     |              +----------+                |
//	   ^         |               ^        ^                 |
//	   |         |               |        |                 |
//	   |         |               v        v                 |
//	   |         |       +---------+    +-----------+       |
//	   |         |       | healthy |<-->| unhealthy |       |
//	   |         |       +---------+    +-----------+       |
//	   |         |                                          |
//	   +---------|                                          |
//	             +------------------------------------------+
//
// Health transitions:
//
//	none      → starting   the instance runs and its check begins
//	starting  → healthy    the check passed
//	starting  → unhealthy  the check failed
//	starting  → none       the instance ended or was stopped: nothing to probe
//	healthy   → unhealthy  the check failed
//	healthy   → starting   the instance restarted
//	healthy   → none       the instance ended or was stopped
//	unhealthy → healthy    the check passed again
//	unhealthy → starting   the instance restarted
//	unhealthy → none       the instance ended or was stopped
package lifecycle
