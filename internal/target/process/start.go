package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/logfile"
	"github.com/graph-network-harness/harness/target"
)

// defaultPath is searched when Spec.Env sets no PATH, as execvp(3) does.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// Start implements target.Target: it execs Spec.Argv directly (never through a shell) in a
// process group of its own, with exactly Spec.Env, in Spec.Dir (empty: this process's working
// directory), as Spec.User, with stdout and stderr drained into Spec.LogPath (empty: output
// discarded). It returns once the program has been exec'd, not once it is ready. When it
// fails, nothing of the instance runs.
func (t *Target) Start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	h, err := t.start(ctx, spec)
	if err != nil {
		return target.Handle{}, fmt.Errorf("start %s: %w", spec.Service, err)
	}
	return h, nil
}

func (t *Target) start(ctx context.Context, spec target.Spec) (target.Handle, error) {
	if err := ctx.Err(); err != nil {
		return target.Handle{}, err
	}
	if t.isClosed() {
		return target.Handle{}, errClosed
	}
	if len(spec.Argv) == 0 {
		return target.Handle{}, fmt.Errorf("no argv: %w", target.ErrInvalidSpec)
	}
	stopName := spec.StopSignal
	if stopName == "" {
		stopName = "SIGTERM"
	}
	stop, err := parseSignal(stopName)
	if err != nil {
		return target.Handle{}, fmt.Errorf("stop signal: %w: %w", err, target.ErrInvalidSpec)
	}
	path, err := resolveArgv0(spec.Argv[0], spec.Dir, spec.Env)
	if err != nil {
		return target.Handle{}, err
	}
	cred, err := credential(spec.User, os.Geteuid(), os.Getegid())
	if err != nil {
		return target.Handle{}, err
	}
	env := spec.Env
	if env == nil {
		env = []string{} // nil would mean this process's environment
	}
	inst := &instance{
		own:        true,
		stopSignal: stop,
		logPath:    spec.LogPath,
		env:        env,
		dir:        spec.Dir,
		cred:       cred,
		pidfd:      -1,
		drained:    make(chan struct{}),
		exited:     make(chan struct{}),
		done:       make(chan struct{}),
		path:       path,
		argv:       spec.Argv,
	}
	if err := t.spawn(inst, spec); err != nil {
		return target.Handle{}, err
	}
	return inst.handle, nil
}

// spawn starts the process of inst, and has the poller watch it. When it fails, it leaves
// nothing behind: no process, no open file.
func (t *Target) spawn(inst *instance, spec target.Spec) (err error) {
	var (
		closeAfter []int // descriptors only the child needs: closed here once it has them
		kept       []keptFD
	)
	defer func() {
		for _, fd := range closeAfter {
			unix.Close(fd)
		}
		if err != nil {
			inst.closeStreams()
			if inst.pidfd >= 0 {
				unix.Close(inst.pidfd)
			}
			if inst.log != nil {
				inst.log.Close()
			}
		}
	}()
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	closeAfter = append(closeAfter, null)
	// The child's descriptors: stdin, stdout, stderr, and the read ends it keeps (keep.go).
	files := []uintptr{uintptr(null), uintptr(null), uintptr(null)}
	if spec.LogPath != "" {
		if inst.log, err = logfile.Open(spec.LogPath, t.opts.LogOptions); err != nil {
			return err
		}
		var keep []uintptr
		for i, name := range []string{"stdout", "stderr"} {
			r, w, k, err := outputPipe()
			if err != nil {
				return err
			}
			d, err := inst.log.Drainer(name)
			if err != nil {
				unix.Close(r)
				unix.Close(w)
				return err
			}
			inst.streams = append(inst.streams, &stream{name: name, fd: r, d: d})
			closeAfter = append(closeAfter, w)
			files[1+i] = uintptr(w)
			keep = append(keep, uintptr(k.fd))
			kept = append(kept, keptFD{FD: keepFirstFD + i, Stream: name, Ino: k.ino})
		}
		files = append(files, keep...)
	} else {
		close(inst.drained)
	}
	// Straight to fork and exec, no os/exec: its Start would make the read ends blocking
	// (File.Fd), and costs more than the fork on a start of a thousand services.
	pid, err := syscall.ForkExec(inst.path, inst.argv, &syscall.ProcAttr{
		Dir:   inst.dir,
		Env:   inst.env,
		Files: files,
		// No Pdeathsig: services outlive their supervisor, for a successor to adopt.
		Sys: &syscall.SysProcAttr{Setpgid: true, Credential: inst.cred},
	})
	if err != nil {
		err = fmt.Errorf("exec %s: %w", inst.path, err)
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ENOTDIR) {
			err = fmt.Errorf("%w: %w", err, target.ErrInvalidSpec)
		}
		return err
	}
	// From here on a failure must also end the process: kill its group, reap it.
	defer func() {
		if err != nil {
			_ = unix.Kill(-pid, unix.SIGKILL)
			_, _ = wait4(pid)
		}
	}()
	if err := t.identify(inst, pid); err != nil {
		return err
	}
	if t.journal != nil {
		if err := t.journal.add(record{
			ID:         inst.handle.ID,
			Stack:      spec.Stack,
			Service:    spec.Service,
			StopSignal: signalName(inst.stopSignal),
			LogPath:    spec.LogPath,
			Kept:       kept,
		}); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	if err := t.watch(inst); err != nil {
		return err
	}
	t.instances[inst.handle.ID] = inst
	t.watched[inst] = struct{}{}
	return nil
}

// identify opens the pidfd of a just started child and reads its start time, which makes
// its handle. The child is not reaped before the reaper runs, so its PID cannot be reused
// in between.
func (t *Target) identify(inst *instance, pid int) error {
	pidfd, err := openPidfd(pid)
	if err != nil {
		return err
	}
	inst.pidfd = pidfd
	st, err := readStat(pid)
	if err != nil {
		return fmt.Errorf("read start time: %w", err)
	}
	boot, err := t.bootTime()
	if err != nil {
		return fmt.Errorf("read boot time: %w", err)
	}
	inst.pid, inst.startTicks, inst.startedAt = pid, st.StartTime, startedAt(boot, st.StartTime)
	inst.handle = target.Handle{Target: TargetName, Node: t.opts.Node, ID: formatID(pid, st.StartTime)}
	return nil
}

// resolveArgv0 finds the program of argv[0]: a name with a slash is a path, relative to dir
// (or, when dir is empty, to this process's working directory); a name without one is looked
// up in the PATH of env (defaultPath when env sets none), skipping empty and relative
// entries, which would depend on the working directory. The result is absolute.
func resolveArgv0(name, dir string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			abs, err := filepath.Abs(filepath.Join(dir, p))
			if err != nil {
				return "", err
			}
			p = abs
		}
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("program %s: %w: %w", name, err, target.ErrInvalidSpec)
		}
		return p, nil
	}
	if name == "" {
		return "", fmt.Errorf("empty program name: %w", target.ErrInvalidSpec)
	}
	path, ok := config.EnvironLookup(env)("PATH")
	if !ok {
		path = defaultPath
	}
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			continue
		}
		if p := filepath.Join(d, name); checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %s not found in PATH %q: %w", name, path, target.ErrInvalidSpec)
}

// checkExecutable reports why p cannot be exec'd, if it cannot.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return errors.New("not executable")
	}
	return nil
}

// credential resolves Spec.User, "USER[:GROUP]" where each is a name or a number, to the
// credential a service runs with: the user's uid, the group's gid (default: the user's
// primary group; 0 for a uid with no passwd entry, as Docker does), and the user's
// supplementary groups. nil means: run as harness runs. Switching users needs root; without
// root, only the user harness runs as is accepted.
func credential(spec string, euid, egid int) (*syscall.Credential, error) {
	if spec == "" {
		return nil, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" || (hasGroup && group == "") {
		return nil, fmt.Errorf("user %q: want USER or USER:GROUP: %w", spec, target.ErrInvalidSpec)
	}
	var cred syscall.Credential
	u, err := lookupUser(name)
	switch {
	case err == nil:
		uid, gid, groups, err := parseIDs(u)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", spec, err)
		}
		cred = syscall.Credential{Uid: uid, Gid: gid, Groups: groups}
	case isNumber(name):
		uid, err := parseID(name)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w: %w", spec, err, target.ErrInvalidSpec)
		}
		cred = syscall.Credential{Uid: uid, Groups: []uint32{}}
	default:
		return nil, fmt.Errorf("user %q: %w: %w", spec, err, target.ErrInvalidSpec)
	}
	if hasGroup {
		gid, err := lookupGroupID(group)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w: %w", spec, err, target.ErrInvalidSpec)
		}
		cred.Gid = gid
	}
	if euid != 0 {
		if int(cred.Uid) == euid && (!hasGroup || int(cred.Gid) == egid) {
			return nil, nil
		}
		return nil, fmt.Errorf("user %q: running a service as another user needs root, and harness runs as uid %d: %w",
			spec, euid, target.ErrInvalidSpec)
	}
	return &cred, nil
}

// lookupUser looks a user up by name, or by uid when name is a number.
func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err != nil && isNumber(name) {
		return user.LookupId(name)
	}
	return u, err
}

// lookupGroupID returns the gid of a group name, or of a number.
func lookupGroupID(name string) (uint32, error) {
	if isNumber(name) {
		return parseID(name)
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return parseID(g.Gid)
}

// parseIDs returns the uid, primary gid and supplementary gids of u.
func parseIDs(u *user.User) (uid, gid uint32, groups []uint32, err error) {
	if uid, err = parseID(u.Uid); err != nil {
		return 0, 0, nil, err
	}
	if gid, err = parseID(u.Gid); err != nil {
		return 0, 0, nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return 0, 0, nil, fmt.Errorf("groups of %s: %w", u.Username, err)
	}
	groups = make([]uint32, 0, len(ids))
	for _, id := range ids {
		g, err := parseID(id)
		if err != nil {
			return 0, 0, nil, err
		}
		groups = append(groups, g)
	}
	return uid, gid, groups, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("id %q: %w", s, err)
	}
	return uint32(n), nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// parseSignal parses a signal name, "SIGHUP", "HUP" or "hup", or a number.
func parseSignal(name string) (syscall.Signal, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n <= 64 {
			return syscall.Signal(n), nil
		}
		return 0, fmt.Errorf("unknown signal %q", name)
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", name)
}

// signalName names a signal, "SIGTERM"; a signal with no name is "SIG" and its number.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "SIG" + strconv.Itoa(int(sig))
}
