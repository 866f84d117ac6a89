package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A test process killed before its cleanup ran (SIGKILL, a go test timeout, a crash) leaves its
// LANs behind: bridges, netns, running sshds, directories. Each LAN's directory records its
// owner and each host's directory the names of its namespace and link, so that the next NewLAN
// on this machine removes what belongs to processes that are gone.

// processID identifies a running process for the owner file: its pid and its start time, so
// that a reused pid is not taken for the owner.
func processID(pid int) (string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, the last ')' ends it;
	// starttime is field 22, the 20th after COMM.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return "", fmt.Errorf("process %d: unexpected /proc/%d/stat", pid, pid)
	}
	if fields := strings.Fields(string(stat[i+1:])); len(fields) >= 20 {
		return fmt.Sprintf("%d %s\n", pid, fields[19]), nil
	}
	return "", fmt.Errorf("process %d: unexpected /proc/%d/stat", pid, pid)
}

// ownerAlive reports whether the process named in dir/owner still runs. A LAN directory
// without an owner file is one whose NewLAN died half-way: its owner is gone.
func ownerAlive(dir string) bool {
	owner, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.Fields(string(owner) + " x")[0])
	if err != nil {
		return false
	}
	now, err := processID(pid)
	return err == nil && now == string(owner)
}

// reapStale removes the LANs under runDir whose owner is gone. It runs with runDir locked, so
// no LAN is created meanwhile. Failures are logged, not errors of the test at hand.
func reapStale(t testing.TB, tl tools) {
	t.Helper()
	entries, err := os.ReadDir(runDir)
	if err != nil {
		t.Logf("reap stale LANs: %v", err)
		return
	}
	for _, e := range entries {
		dir := filepath.Join(runDir, e.Name())
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "ht") || ownerAlive(dir) {
			continue
		}
		if err := reapLAN(tl, dir, e.Name()); err != nil {
			t.Logf("reap LAN %s of a test process that is gone: %v", e.Name(), err)
		} else {
			t.Logf("reaped LAN %s of a test process that is gone", e.Name())
		}
	}
}

// reapLAN removes the hosts of the LAN in dir, then its bridge, firewall rule and directory.
// Things already gone are not errors: the owner may have died in the middle of its cleanup.
func reapLAN(tl tools, dir, bridge string) error {
	var errs []error
	hosts, _ := os.ReadDir(dir)
	for _, h := range hosts {
		if !h.IsDir() {
			continue
		}
		ns, _ := os.ReadFile(filepath.Join(dir, h.Name(), "netns"))
		link, _ := os.ReadFile(filepath.Join(dir, h.Name(), "link"))
		if name := strings.TrimSpace(string(ns)); name != "" {
			if err := killNetns(name, 5*time.Second); err != nil {
				errs = append(errs, err)
			}
			runCmd(tl.ip, "netns", "delete", name)
		}
		if name := strings.TrimSpace(string(link)); name != "" {
			runCmd(tl.ip, "link", "delete", name)
		}
	}
	runCmd(tl.ip, "link", "delete", bridge)
	if tl.iptables != "" {
		runCmd(tl.iptables, "-w", "-D", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT")
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// netnsPids returns the processes in the named network namespace (what `ip netns pids` lists),
// in pid order: those whose /proc/PID/ns/net is the namespace that /run/netns/NAME holds.
// Zombies have no namespaces and are not listed. A namespace that does not exist has none.
func netnsPids(name string) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", name), &want); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("processes of netns %s: %w", name, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("processes of netns %s: %w", name, err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		// Processes that exit meanwhile fail here and are rightly left out.
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// killNetns SIGKILLs every process in the named network namespace until none is left, or
// fails after timeout with the survivors. Killing again each round catches processes forked
// by ones that were not dead yet.
func killNetns(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := netnsPids(name)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of netns %s survive SIGKILL for %v", pids, name, timeout)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
