//go:build integration

package docker_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/graph-network-harness/harness/internal/target/targettest"
	"github.com/graph-network-harness/harness/target"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &specs{e: e, image: e.helperImage(t)}
	var pidFiles grandchildren
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T) target.Target { return e.newTarget(t) },
		Spec: func(t *testing.T, b targettest.Behaviour) target.Spec {
			if b.PIDFile != "" {
				pidFiles.add(b.PIDFile)
			}
			return s.helper(t, b)
		},
		Reused: func(h target.Handle) target.Handle {
			// Another container ID, of the same form: one the engine does not have.
			last := h.ID[len(h.ID)-1]
			h.ID = h.ID[:len(h.ID)-1] + map[bool]string{true: "0", false: "1"}[last != '0']
			return h
		},
		Alive: pidFiles.alive,
	})
}

// grandchildren finds the grandchildren of Grandchild services among the processes of this
// host. A grandchild writes its PID as its container sees it, in the container's PID
// namespace; on this host it is a process whose innermost namespace PID (the last of NSpid
// in /proc/PID/status) is that number and whose environment names its PID file, which is a
// path of this test's own (the helper passes it to the grandchild in its environment).
type grandchildren struct {
	mu    sync.Mutex
	files []string
}

func (g *grandchildren) add(path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files = append(g.files, path)
}

// alive reports whether a grandchild with container PID pid runs and is no zombie.
func (g *grandchildren) alive(pid int) bool {
	g.mu.Lock()
	var files []string
	for _, f := range g.files {
		if raw, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(raw)) == strconv.Itoa(pid) {
			files = append(files, f)
		}
	}
	g.mu.Unlock()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, proc := range procs {
		status, err := os.ReadFile(proc + "/status")
		if err != nil || !nsPIDIs(status, pid) || isZombie(status) {
			continue
		}
		environ, err := os.ReadFile(proc + "/environ")
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(environ, []byte{0}) {
			for _, f := range files {
				if strings.HasSuffix(string(kv), "="+f) {
					return true
				}
			}
		}
	}
	return false
}

// nsPIDIs reports whether the status of a process says it is pid in a PID namespace below
// this host's.
func nsPIDIs(status []byte, pid int) bool {
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			return len(f) > 1 && f[len(f)-1] == strconv.Itoa(pid)
		}
	}
	return false
}

// isZombie reports whether the status of a process says it is dead and not yet reaped.
func isZombie(status []byte) bool {
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "State:"); ok {
			f := strings.Fields(rest)
			return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
		}
	}
	return false
}
