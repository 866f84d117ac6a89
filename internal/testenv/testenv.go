package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// provider is what the message of missing infrastructure points to.
const provider = "`sudo ./scripts/test-all.sh` installs and starts the test infrastructure"

// missing stops a test whose infrastructure is absent: it skips when CI is unset and fails
// when CI is set, so CI can never pass by skipping. Every helper of this package that finds
// something missing calls it; nothing else decides between skip and failure.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; " + provider
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: missing infrastructure fails instead of skipping)", msg)
	} else {
		t.Skip(msg)
	}
}

// RequireRoot stops the test unless it runs as root, which network namespaces, interfaces and
// firewall rules need.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "test needs root (running as uid %d)", os.Geteuid())
	}
}

// Command returns the absolute path of the executable name, looked up in PATH and then in the
// sbin directories, and stops the test when there is none.
func Command(t testing.TB, name string) string {
	t.Helper()
	// The sbin directories are searched after PATH: a non-root PATH often lacks them, and sshd
	// lives there.
	sbinDirs := []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}
	if path, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
		return path
	}
	for _, dir := range sbinDirs {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return path
		}
	}
	missing(t, "executable %q not found in PATH or %v", name, sbinDirs)
	return ""
}
