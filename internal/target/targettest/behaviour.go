package targettest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind names what a service under test does.
type Kind int

// The kinds of Behaviour. Every kind that keeps running prints the line Ready on stdout once
// its signal handling is in place, so that the suite never signals a service that has not yet
// decided what to do with the signal.
const (
	// ExitCode exits at once with status Behaviour.Code.
	ExitCode Kind = iota + 1
	// KillSelf kills itself with SIGKILL.
	KillSelf
	// RunUntilTerm prints Ready and runs until SIGTERM, then exits with status 0.
	RunUntilTerm
	// IgnoreTerm ignores SIGTERM, prints Ready and runs until it is killed.
	IgnoreTerm
	// Grandchild starts a grandchild in the service's process group that ignores SIGTERM, holds
	// the service's stdout open and writes its PID to Behaviour.PIDFile; once the file
	// exists it prints Ready and behaves as RunUntilTerm. The grandchild would outlive the
	// service: only a stop that empties the whole process group ends it.
	Grandchild
	// WriteOutput writes Behaviour.MB mebibytes to stdout as fast as it can, as lines made
	// by OutputLine, and exits with status 0.
	WriteOutput
	// PrintAndRun prints Behaviour.Line and then behaves as RunUntilTerm.
	PrintAndRun
)

// String names the kind as the suite's subtests do.
func (k Kind) String() string {
	switch k {
	case ExitCode:
		return "exit-code"
	case KillSelf:
		return "kill-self"
	case RunUntilTerm:
		return "run-until-term"
	case IgnoreTerm:
		return "ignore-term"
	case Grandchild:
		return "grandchild"
	case WriteOutput:
		return "write-output"
	case PrintAndRun:
		return "print-and-run"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Behaviour is what a service under test does: its Kind and that kind's parameters. It is
// comparable and JSON-serializable, so that a target can hand it to the service it starts
// (see Env and HelperMain).
type Behaviour struct {
	Kind Kind `json:"kind"`
	// Code is the exit status of ExitCode.
	Code int `json:"code,omitempty"`
	// MB is how many mebibytes WriteOutput writes.
	MB int `json:"mb,omitempty"`
	// Line is what PrintAndRun prints.
	Line string `json:"line,omitempty"`
	// PIDFile is where the grandchild of Grandchild writes its PID.
	PIDFile string `json:"pid_file,omitempty"`
}

// Ready is the line a running service under test prints once its signal handling is set up.
const Ready = "ready"

// OutputLineLen is the length of a line made by OutputLine, without its newline: with the
// newline, 1,024 lines make one mebibyte.
const OutputLineLen = 1023

// OutputLine returns line i (from 0) of what WriteOutput writes: its number, so that a lost or
// reordered line shows, padded to OutputLineLen bytes.
func OutputLine(i int) string {
	s := fmt.Sprintf("%08d ", i)
	return s + strings.Repeat("x", OutputLineLen-len(s))
}

const (
	// behaviourEnv carries a Behaviour, as JSON, to a helper process.
	behaviourEnv = "HARNESS_TARGETTEST_BEHAVIOUR"
	// grandchildEnv carries the PID file path to the grandchild of Grandchild.
	grandchildEnv = "HARNESS_TARGETTEST_GRANDCHILD"
)

// Env returns the environment entries that make HelperMain, in a process started with them,
// act b.
func (b Behaviour) Env() []string {
	j, err := json.Marshal(b)
	if err != nil {
		// A struct of ints and strings always marshals.
		panic(err)
	}
	return []string{behaviourEnv + "=" + string(j)}
}

// HelperMain acts the Behaviour found in the environment (see Env) and exits; when the
// environment holds none, it returns at once. Targets that run the test binary itself as the
// service call it from a TestHelperProcess test:
//
//	func TestHelperProcess(*testing.T) { targettest.HelperMain() }
func HelperMain() {
	if path := os.Getenv(grandchildEnv); path != "" {
		serveGrandchild(path)
	}
	raw := os.Getenv(behaviourEnv)
	if raw == "" {
		return
	}
	var b Behaviour
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		fail("decode %s: %v", behaviourEnv, err)
	}
	serve(b)
}

// serve makes this process act b; it never returns.
func serve(b Behaviour) {
	switch b.Kind {
	case ExitCode:
		exit(b.Code)
	case KillSelf:
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		sleepForever()
	case RunUntilTerm:
		runUntilTerm()
	case IgnoreTerm:
		signal.Ignore(syscall.SIGTERM)
		fmt.Println(Ready)
		sleepForever()
	case Grandchild:
		startGrandchild(b.PIDFile)
		runUntilTerm()
	case WriteOutput:
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		for i := range b.MB << 10 {
			_, _ = w.WriteString(OutputLine(i))
			_ = w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			fail("write output: %v", err)
		}
		exit(0)
	case PrintAndRun:
		fmt.Println(b.Line)
		runUntilTerm()
	}
	fail("unknown behaviour %v", b.Kind)
}

// runUntilTerm prints Ready, waits for SIGTERM and exits with status 0.
func runUntilTerm() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println(Ready)
	<-term
	exit(0)
}

// exit ends the process with code at once. It skips the runtime's exit hooks: in a binary
// built with -race, os.Exit(0) first sleeps a second for the race detector's report.
func exit(code int) {
	syscall.Exit(code)
}

// startGrandchild starts this executable again as the grandchild and waits until it has
// written its PID file.
func startGrandchild(pidFile string) {
	exe, err := os.Executable()
	if err != nil {
		fail("grandchild: %v", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), grandchildEnv+"="+pidFile)
	// The grandchild holds the service's output open, as a daemonized child would.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fail("grandchild: %v", err)
	}
	// The grandchild is never waited for: it is meant to outlive this process.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(pidFile); err == nil {
			return
		}
		if time.Now().After(deadline) {
			fail("grandchild wrote no PID file %s", pidFile)
		}
	}
}

// serveGrandchild ignores SIGTERM, writes its PID to path (atomically, through a rename) and
// sleeps until it is killed.
func serveGrandchild(path string) {
	signal.Ignore(syscall.SIGTERM)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fail("grandchild: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		fail("grandchild: %v", err)
	}
	sleepForever()
}

// sleepForever blocks until the process is killed. A timer, unlike select {}, never trips
// the runtime's deadlock detector.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// fail reports a broken helper on stderr and exits with a status no behaviour uses.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "targettest helper: "+format+"\n", args...)
	exit(111)
}
