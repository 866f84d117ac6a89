package config

import (
	"cmp"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Pos is a place in a configuration file. Lines and columns start at 1; a zero Line means the
// whole file (or a value built in Go rather than read from a file).
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String renders the position as FILE:LINE:COL, the form editors and terminals link.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity tells an error, which makes a file invalid, from a warning, which does not.
type Severity string

// The severities of a Diagnostic.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Diagnostic is one problem found in a configuration file, with its place.
type Diagnostic struct {
	Pos
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String renders the diagnostic as FILE:LINE:COL: message (warnings say so).
func (d Diagnostic) String() string {
	s := d.Message
	if d.Severity == SeverityWarning {
		s = "warning: " + s
	}
	if p := d.Pos.String(); p != "" { // no place: a stack built in Go
		s = p + ": " + s
	}
	return s
}

// Diagnostics is a list of problems, errors first, each group in file order.
type Diagnostics []Diagnostic

// Errors returns the diagnostics that are errors.
func (ds Diagnostics) Errors() Diagnostics { return ds.only(SeverityError) }

// Warnings returns the diagnostics that are warnings.
func (ds Diagnostics) Warnings() Diagnostics { return ds.only(SeverityWarning) }

func (ds Diagnostics) only(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// sort orders errors before warnings, then by file, line and column; ties keep discovery order.
func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		if a.Severity != b.Severity {
			if a.Severity == SeverityError {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// Error is what Load and Parse return when a file has errors. It carries every diagnostic,
// warnings included, so a caller can print them all at once.
type Error struct {
	Diagnostics Diagnostics
}

// Error lists the error diagnostics, one per line.
func (e *Error) Error() string {
	errs := e.Diagnostics.Errors()
	lines := make([]string, len(errs))
	for i, d := range errs {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// collector gathers diagnostics while a file is decoded and validated.
type collector struct {
	diags  Diagnostics
	strict bool            // unset variables are errors
	path   map[string]bool // binaries looked up on PATH, each once per load
}

// onPath reports whether the binary is found on PATH, looking each name up once.
func (c *collector) onPath(binary string) bool {
	found, ok := c.path[binary]
	if !ok {
		_, err := exec.LookPath(binary)
		found = err == nil
		if c.path == nil {
			c.path = map[string]bool{}
		}
		c.path[binary] = found
	}
	return found
}

func (c *collector) errorf(p Pos, format string, args ...any) {
	c.diags = append(c.diags, Diagnostic{Pos: p, Severity: SeverityError, Message: fmt.Sprintf(format, args...)})
}

func (c *collector) warnf(p Pos, format string, args ...any) {
	c.diags = append(c.diags, Diagnostic{Pos: p, Severity: SeverityWarning, Message: fmt.Sprintf(format, args...)})
}

// unset reports an unset variable: a warning, or an error in strict mode (where no empty
// string is used, so the message does not say so).
func (c *collector) unset(p Pos, name string) {
	if c.strict {
		c.errorf(p, "variable %s is not set", name)
		return
	}
	c.warnf(p, "variable %s is not set; using an empty string", name)
}
