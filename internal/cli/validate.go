package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/config"
	"github.com/graph-network-harness/harness/internal/deploy"
)

func (a *app) validateCmd() *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate [--strict]",
		Short: "Check the config; print a summary and every problem",
		Long: `validate loads the services file, prints a summary of what it read (services by
type, networks, start order by level), then every problem as FILE:LINE:COL: message,
errors first, then a verdict. It needs no daemon, and none of the binaries, images,
packages or hosts the file names.

Exit status 0 when the file is valid (warnings allowed), 2 when it has errors.

With -o json, stdout holds one object:
  {"stack": NAME, "file": PATH, "valid": BOOL, "services": N, "networks": N,
   "levels": [["db"], ["api", "worker"]],
   "diagnostics": [{"file": F, "line": L, "col": C, "severity": "error"|"warning",
                    "message": M}]}
"levels" is null when a dependency cycle leaves the start order undefined.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.validate(strict) },
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "make unset variables without a default errors, not warnings")
	return cmd
}

// validateReport is the JSON form of validate's report.
type validateReport struct {
	Stack       string             `json:"stack"`
	File        string             `json:"file"`
	Valid       bool               `json:"valid"`
	Services    int                `json:"services"`
	Networks    int                `json:"networks"`
	Levels      [][]string         `json:"levels"`
	Diagnostics config.Diagnostics `json:"diagnostics"`
}

func (a *app) validate(strict bool) error {
	path, _ := a.configPath()
	s, err := a.load(strict)
	var cfgErr *config.Error
	diags := config.Diagnostics{}
	switch {
	case err == nil:
		diags = append(diags, s.Warnings...)
		if pkgDiags := packageDiagnostics(s); len(pkgDiags) > 0 {
			diags = append(diags, pkgDiags...)
			err = &config.Error{Diagnostics: pkgDiags}
		}
	case errors.As(err, &cfgErr):
		diags = append(diags, cfgErr.Diagnostics...)
	default:
		return err
	}
	valid := err == nil
	levels := startOrder(s)

	switch {
	case a.json():
		r := validateReport{
			Stack:       s.Name,
			File:        path,
			Valid:       valid,
			Services:    len(s.Services),
			Networks:    len(s.Networks),
			Levels:      levels,
			Diagnostics: diags,
		}
		if err := a.writeJSON(r); err != nil {
			return err
		}
	case !a.quiet:
		writeSummary(a.stdout, path, s, levels)
	}
	a.printDiagnostics(diags)
	if !a.quiet {
		p := a.colors(a.human())
		if valid {
			verdict := p.paint(green, "valid")
			if n := len(diags); n > 0 {
				verdict += ", " + plural(n, "warning")
			}
			fmt.Fprintln(a.human(), verdict)
		} else {
			fmt.Fprintf(a.human(), "%s: %s\n", p.paint(red, "invalid"), countProblems(diags))
		}
	}
	if !valid {
		return withCode(ExitUsage, nil) // reported above
	}
	return nil
}

// startOrder returns the services of s by start level, never nil (JSON shows [] for no
// services), or nil when a dependency cycle leaves the order undefined (JSON shows null).
func startOrder(s *config.Stack) [][]string {
	levels, err := s.Graph().Levels()
	if err != nil {
		return nil
	}
	if levels == nil {
		levels = [][]string{}
	}
	return levels
}

// writeSummary prints what the file holds:
//
//	stack shop (services.yaml)
//	  services  3 (2 process, 1 docker)
//	  networks  1 (local)
//	  start order
//	    1. db
//	    2. api, worker
func writeSummary(w io.Writer, file string, s *config.Stack, levels [][]string) {
	fmt.Fprintf(w, "stack %s (%s)\n", s.Name, file)

	counts := map[config.ServiceType]int{}
	types := []config.ServiceType{config.TypeProcess, config.TypeDocker, config.TypeRemote, config.TypePackage}
	for _, svc := range s.Services {
		if !slices.Contains(types, svc.Type) {
			types = append(types, svc.Type) // unknown types, in file order, to be complete
		}
		counts[svc.Type]++
	}
	var byType []string
	for _, t := range types {
		if n := counts[t]; n > 0 {
			name := string(t)
			if name == "" {
				name = "without type"
			}
			byType = append(byType, fmt.Sprintf("%d %s", n, name))
		}
	}
	fmt.Fprintf(w, "  services  %d%s\n", len(s.Services), parenList(byType))

	names := make([]string, len(s.Networks))
	for i, n := range s.Networks {
		names[i] = n.Name
	}
	fmt.Fprintf(w, "  networks  %d%s\n", len(s.Networks), parenList(names))

	if len(levels) == 0 { // no services, or a cycle
		return
	}
	fmt.Fprintln(w, "  start order")
	for i, level := range levels {
		fmt.Fprintf(w, "    %d. %s\n", i+1, strings.Join(level, ", "))
	}
}

// parenList renders items as " (a, b)", or nothing when there are none.
func parenList(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + strings.Join(items, ", ") + ")"
}

// packageDiagnostics checks the package of every package service whose package exists (as
// harness package does: the manifest with FILE:LINE:COL, the executable, scripts, links), and
// that the manifest's dependencies are services of s.
func packageDiagnostics(s *config.Stack) config.Diagnostics {
	var out config.Diagnostics
	for _, svc := range s.Services {
		if svc.Type != config.TypePackage || svc.Package == "" {
			continue
		}
		path := s.LocalPath(svc.Package)
		if _, err := os.Stat(path); err != nil {
			continue // validate's warning says so
		}
		m, err := deploy.Load(path)
		var cfgErr *config.Error
		switch {
		case errors.As(err, &cfgErr):
			out = append(out, cfgErr.Diagnostics...)
			continue
		case err != nil:
			out = append(out, config.Diagnostic{Pos: config.Pos{File: path}, Severity: config.SeverityError, Message: err.Error()})
			continue
		}
		for _, dep := range m.Dependencies {
			if s.Service(dep) == nil {
				out = append(out, config.Diagnostic{Pos: config.Pos{File: path}, Severity: config.SeverityError,
					Message: fmt.Sprintf("service %s: package %s %s depends on %q, which is not a service of %s", svc.Name, m.Name, m.Version, dep, s.File)})
			}
		}
	}
	return out
}
