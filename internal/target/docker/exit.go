package docker

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/target"
)

// maxSignal is the highest signal number of Linux (SIGRTMAX).
const maxSignal = 64

// exitOf maps the exit status the engine reports for a container to an Exit. The engine, and
// docker-init in the container, report a process killed by signal N as status 128+N, the
// shell's convention: 129 … 192 therefore read as killed by that signal, Code -1. A process
// that exits with such a status of its own accord (exit(137)) reads as killed too: the
// engine's status cannot tell the two apart.
func exitOf(status int, at time.Time) target.Exit {
	if status > 128 && status <= 128+maxSignal {
		return target.Exit{Code: -1, Signal: signalName(syscall.Signal(status - 128)), At: at}
	}
	return target.Exit{Code: status, At: at}
}

// exitNote is the log note of an exit that Stop did not cause.
func exitNote(e target.Exit) string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return "exited with status " + strconv.Itoa(e.Code)
}

// parseSignal reads a signal as a name ("SIGTERM", "TERM", "term") or a number ("15") and
// returns its canonical name, "SIGTERM".
func parseSignal(name string) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n <= maxSignal {
			return signalName(syscall.Signal(n)), nil
		}
		return "", fmt.Errorf("unknown signal %q", name)
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return signalName(sig), nil
	}
	return "", fmt.Errorf("unknown signal %q", name)
}

// signalName names a signal, "SIGTERM"; a signal with no name (a real-time one) is "SIG" and
// its number, which the engine understands too.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "SIG" + strconv.Itoa(int(sig))
}

// engineSignal is how the engine is told a signal that parseSignal returned: by its name, or
// by its number when it has none (the engine knows no "SIG34").
func engineSignal(canonical string) string {
	if n, err := strconv.Atoi(strings.TrimPrefix(canonical, "SIG")); err == nil {
		return strconv.Itoa(n)
	}
	return canonical
}
