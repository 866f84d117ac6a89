package harness_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graph-network-harness/harness/internal/testenv"
)

// anyNonStd, as a forbidden pattern, matches every package outside the standard library,
// including the module's own.
const anyNonStd = "<non-std>"

// archRule forbids the packages matching pkgs (except those matching except) to depend,
// directly or transitively, on packages matching forbidden (except those matching allowed).
// Patterns are relative to the module path: "api" is that one package, "internal/..." is
// internal and everything below it, "..." is every package of the module.
type archRule struct {
	pkgs      []string
	except    []string
	forbidden []string
	allowed   []string
	reason    string
}

// archRules are the dependency arrows of DESIGN.md ("Packages"). Later issues extend the table.
func archRules() []archRule {
	return []archRule{
		{
			pkgs:      []string{"api/..."},
			forbidden: []string{anyNonStd},
			reason:    "api holds the daemon's wire types and imports only the standard library",
		},
		{
			pkgs:      []string{"config/...", "target/...", "internal/dag/...", "internal/lifecycle/..."},
			forbidden: []string{"internal/...", "client/...", "api/..."},
			allowed:   []string{"internal/dag/..."},
			reason:    "the config model and its building blocks are the bottom of the graph (only internal/dag below them)",
		},
		{
			pkgs: []string{"internal/cli/..."},
			forbidden: []string{
				"internal/daemon/...", "internal/orchestrator/...", "internal/registry/...",
				"internal/target/...", "internal/node/...", "internal/agent/...",
			},
			reason: "the CLI formats and talks to the daemon only through client",
		},
		{
			pkgs:      []string{"client/..."},
			forbidden: []string{"internal/..."},
			reason:    "client is public and speaks only the wire types of api",
		},
		{
			pkgs:      []string{"internal/orchestrator/..."},
			forbidden: []string{"internal/target/process/...", "internal/target/docker/..."},
			reason:    "the orchestrator never imports a target implementation: the daemon injects them",
		},
		{
			pkgs:      []string{"..."},
			except:    []string{"cmd/harness", "internal/cli/..."},
			forbidden: []string{"internal/cli/..."},
			reason:    "only the harness command wires up the CLI",
		},
		{
			pkgs:      []string{"..."},
			except:    []string{"internal/testenv/..."},
			forbidden: []string{"internal/testenv/..."},
			reason:    "internal/testenv is test infrastructure: only _test.go files may import it",
		},
		{
			pkgs:      []string{"internal/orchestrator/..."},
			forbidden: []string{"internal/telemetry/..."},
			reason:    "the orchestrator reports through its own Observer interface: the daemon wires metrics in",
		},
		{
			pkgs:      []string{"internal/network/...", "internal/deploy/...", "internal/registry/..."},
			forbidden: []string{"internal/orchestrator/...", "internal/daemon/...", "internal/httpapi/...", "internal/remote/..."},
			reason:    "network, deploy and registry sit below the orchestrator: the daemon and the orchestrator wire them together",
		},
		{
			pkgs:      []string{"internal/network/..."},
			forbidden: []string{"internal/registry/...", "internal/deploy/..."},
			reason:    "network keeps its allocations through its own Store interface: the registry implements it without either importing the other",
		},
		{
			pkgs:      []string{"internal/registry/..."},
			forbidden: []string{"internal/network/...", "internal/deploy/..."},
			reason:    "the registry stores plain values: it imports none of the packages whose state it keeps",
		},
	}
}

// listedPackage is the part of `go list -json` output the rules need.
type listedPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Module     *struct{ Main bool }
}

// violation is one forbidden dependency, named relative to the module path. Path is the import
// chain from the package to the forbidden dependency.
type violation struct {
	Pkg, Dep string
	Path     []string
	Reason   string
}

func (v violation) String() string {
	return fmt.Sprintf("%s depends on %s (%s): %s", v.Pkg, v.Dep, strings.Join(v.Path, " → "), v.Reason)
}

// matchPattern reports whether the module-relative package rel matches pattern.
func matchPattern(pattern, rel string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, rel string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matchPattern(p, rel) })
}

// checkArch applies rules to every package of module in pkgs, the output of
// `go list -deps -json`, and returns the violations sorted by package, rule and dependency. Of
// the forbidden packages on one import chain only the first is reported: the rest follow.
func checkArch(module string, pkgs []listedPackage, rules []archRule) []violation {
	byPath := make(map[string]listedPackage, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	rel := func(path string) (string, bool) {
		if path == module {
			return ".", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	// isStd treats cgo's pseudo-package "C" as standard.
	isStd := func(path string) bool { return path == "C" || byPath[path].Standard }

	var mine []string
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Main {
			mine = append(mine, p.ImportPath)
		}
	}
	slices.Sort(mine)

	var out []violation
	for _, path := range mine {
		from, _ := rel(path)
		chains := importChains(path, byPath)
		deps := make([]string, 0, len(chains))
		for dep := range chains {
			deps = append(deps, dep)
		}
		slices.Sort(deps)
		for _, r := range rules {
			if !matchAny(r.pkgs, from) || matchAny(r.except, from) {
				continue
			}
			forbidden := func(dep string) bool {
				depRel, inModule := rel(dep)
				if inModule && matchAny(r.allowed, depRel) {
					return false
				}
				return slices.ContainsFunc(r.forbidden, func(p string) bool {
					if p == anyNonStd {
						return !isStd(dep)
					}
					return inModule && matchPattern(p, depRel)
				})
			}
			for _, dep := range deps {
				chain := chains[dep]
				// A dependency reached through another forbidden one is that one's fault:
				// report only the first forbidden package on each chain.
				if !forbidden(dep) || slices.ContainsFunc(chain[1:len(chain)-1], forbidden) {
					continue
				}
				relChain := make([]string, len(chain))
				for i, p := range chain {
					relChain[i] = p
					if pRel, ok := rel(p); ok {
						relChain[i] = pRel
					}
				}
				out = append(out, violation{Pkg: from, Dep: relChain[len(relChain)-1], Path: relChain, Reason: r.reason})
			}
		}
	}
	return out
}

// importChains returns every dependency of root with a shortest import chain from root to it,
// found breadth first over the Imports of byPath in sorted order, so the chains are stable.
func importChains(root string, byPath map[string]listedPackage) map[string][]string {
	chains := map[string][]string{}
	queue := [][]string{{root}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		imports := slices.Sorted(slices.Values(byPath[chain[len(chain)-1]].Imports))
		for _, imp := range imports {
			if _, seen := chains[imp]; seen || imp == root {
				continue
			}
			next := append(slices.Clip(chain), imp)
			chains[imp] = next
			queue = append(queue, next)
		}
	}
	return chains
}

// goList runs `go list ARGS...` in the module root (the directory of this test) and returns
// its standard output.
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	goBin := testenv.Command(t, "go")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), goBin, append([]string{"list"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func decodePackages(t *testing.T, data []byte) []listedPackage {
	t.Helper()
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
}

// TestArchitecture enforces DESIGN.md's dependency arrows on the non-test dependencies of
// every package of the module.
func TestArchitecture(t *testing.T) {
	module := strings.TrimSpace(string(goList(t, "-m")))
	pkgs := decodePackages(t, goList(t, "-deps", "-json=ImportPath,Standard,Imports,Module", "./..."))
	for _, v := range checkArch(module, pkgs, archRules()) {
		t.Error(v)
	}
}

// TestCheckArch proves that the rules can fail, on a made-up module that breaks them.
func TestCheckArch(t *testing.T) {
	const m = "example.com/m"
	mod := &struct{ Main bool }{Main: true}
	pkgs := []listedPackage{
		{ImportPath: "fmt", Standard: true},
		{ImportPath: "net", Standard: true, Imports: []string{"C", "fmt"}},
		{ImportPath: "example.com/other/yaml", Imports: []string{"fmt", "example.com/other/yaml/parser"}},
		{ImportPath: "example.com/other/yaml/parser", Imports: []string{"fmt"}}, // reached through yaml: not reported
		{ImportPath: m + "/api", Module: mod, Imports: []string{"net", "example.com/other/yaml"}},
		{ImportPath: m + "/internal/dag", Module: mod, Imports: []string{"fmt"}},
		{ImportPath: m + "/internal/testenv", Module: mod, Imports: []string{"fmt"}},
		{ImportPath: m + "/config", Module: mod, Imports: []string{m + "/internal/dag", m + "/internal/testenv"}},
		{ImportPath: m + "/target", Module: mod, Imports: []string{m + "/internal/dag"}},
		{ImportPath: m + "/internal/registry", Module: mod, Imports: []string{"fmt"}},
		{ImportPath: m + "/client", Module: mod, Imports: []string{m + "/api", m + "/internal/registry"}},
		{ImportPath: m + "/internal/cli", Module: mod, Imports: []string{m + "/client"}},
		{ImportPath: m + "/internal/target/docker", Module: mod, Imports: []string{m + "/target"}},
		{ImportPath: m + "/internal/orchestrator", Module: mod, Imports: []string{m + "/internal/target/docker"}},
		{ImportPath: m + "/cmd/harness", Module: mod, Imports: []string{m + "/internal/cli"}},
		{ImportPath: m + "/cmd/other", Module: mod, Imports: []string{m + "/internal/cli"}},
	}
	r := archRules()
	want := []violation{
		{Pkg: "api", Dep: "example.com/other/yaml", Path: []string{"api", "example.com/other/yaml"}, Reason: r[0].reason},
		{Pkg: "client", Dep: "internal/registry", Path: []string{"client", "internal/registry"}, Reason: r[3].reason},
		{Pkg: "cmd/other", Dep: "internal/cli", Path: []string{"cmd/other", "internal/cli"}, Reason: r[5].reason},
		{Pkg: "config", Dep: "internal/testenv", Path: []string{"config", "internal/testenv"}, Reason: r[1].reason},
		{Pkg: "config", Dep: "internal/testenv", Path: []string{"config", "internal/testenv"}, Reason: r[6].reason},
		{Pkg: "internal/cli", Dep: "internal/registry", Path: []string{"internal/cli", "client", "internal/registry"}, Reason: r[2].reason},
		{Pkg: "internal/orchestrator", Dep: "internal/target/docker", Path: []string{"internal/orchestrator", "internal/target/docker"}, Reason: r[4].reason},
	}
	got := checkArch(m, pkgs, r)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkArch (-want +got):\n%s", diff)
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, rel string
		want         bool
	}{
		{"...", "internal/dag", true},
		{"...", ".", true},
		{"api", "api", true},
		{"api", "api/v2", false},
		{"api/...", "api", true},
		{"api/...", "api/v2", true},
		{"api/...", "apis", false},
		{"internal/...", "internal/dag", true},
		{"internal/...", "config", false},
		{"cmd/harness", "cmd/harness", true},
	} {
		if got := matchPattern(tc.pattern, tc.rel); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tc.pattern, tc.rel, got, tc.want)
		}
	}
}
