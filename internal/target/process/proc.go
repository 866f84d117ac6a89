package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the start time in /proc/PID/stat: clock ticks of USER_HZ, which the
// kernel fixes at 100 on every architecture Linux reports it for (sysconf(_SC_CLK_TCK)).
const userHZ = 100

// procStat is what harness reads from /proc/PID/stat.
type procStat struct {
	State     byte   // field 3: R, S, D, Z (zombie), X (dead), …
	PGRP      int    // field 5: the process group
	StartTime uint64 // field 22: clock ticks from boot to the process's start
}

// zombie reports whether the process has exited (and waits for its parent to reap it).
func (s procStat) zombie() bool { return s.State == 'Z' || s.State == 'X' }

// errNoProcess: /proc has no such process.
var errNoProcess = errors.New("no such process")

// parseStat parses the content of /proc/PID/stat. The second field, the command name in
// parentheses, may itself contain spaces and parentheses (a process names itself what it
// wants), so the fields that follow are found after the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse stat %.40q: no ')' after the command name", b)
	}
	// fields[0] is field 3 (state), so field N is fields[N-3].
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 22-3+1 {
		return procStat{}, fmt.Errorf("parse stat %.40q: %d fields after the command name, want at least 20", b, len(fields))
	}
	if len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("parse stat %.40q: state %q", b, fields[0])
	}
	pgrp, err := strconv.Atoi(string(fields[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat %.40q: pgrp: %w", b, err)
	}
	start, err := strconv.ParseUint(string(fields[22-3]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat %.40q: starttime: %w", b, err)
	}
	return procStat{State: fields[0][0], PGRP: pgrp, StartTime: start}, nil
}

// readStat reads /proc/PID/stat; errNoProcess when there is no such process.
func readStat(pid int) (procStat, error) {
	var buf [512]byte
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return procStat{}, errNoProcess
	}
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// readSmall reads a small file of /proc into buf, growing buf only when the file does not
// fit. It uses the system calls directly: an os.File would add an fstat and a poller check
// to every start.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := openRetry(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := syscall.Read(fd, buf[n:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
}

// openRetry opens path read-only, retrying on EINTR.
func openRetry(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if !errors.Is(err, syscall.EINTR) {
			return fd, err
		}
	}
}

// readBootTime reads the boot time, btime of /proc/stat.
func readBootTime() (time.Time, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("btime ")); ok {
			secs, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parse /proc/stat btime: %w", err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}

// startedAt converts a start time in clock ticks after boot to a time. btime has a
// resolution of one second, so the result may be off by up to a second.
func startedAt(boot time.Time, ticks uint64) time.Time {
	return boot.Add(time.Duration(ticks) * (time.Second / userHZ))
}

// groupAlive reports whether the process group pgid has a member that is not a zombie.
// leaderExited says that its leader (the process whose PID is pgid) has exited: until then
// the leader is a live member, and kill(-pgid, 0) answers alone. After it, a zombie member
// keeps kill(-pgid, 0) succeeding — a zombie leader that is not reaped yet, or a killed
// grandchild whose new parent never reaps (an init that does not) — so the members are
// looked up in /proc.
func groupAlive(pgid int, leaderExited bool) (bool, error) {
	err := unix.Kill(-pgid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return false, nil
	case err != nil && !errors.Is(err, unix.EPERM):
		return false, fmt.Errorf("probe process group %d: %w", pgid, err)
	case !leaderExited:
		return true, nil
	}
	return liveMember(pgid)
}

// liveMember reports whether a process of this host that is not a zombie belongs to the
// process group pgid. It reads the stat of every process: it is for the rare group whose
// leader has exited while other members remain.
func liveMember(pgid int) (bool, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return false, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return false, fmt.Errorf("list /proc: %w", err)
	}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone since the listing, or unreadable: not a member we can see
		}
		if st.PGRP == pgid && !st.zombie() {
			return true, nil
		}
	}
	return false, nil
}
