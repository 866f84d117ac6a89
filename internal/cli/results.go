package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/graph-network-harness/harness/api"
)

// The actions of an api.ServiceResult that the report words differently.
const (
	actionStart    = "start"
	actionRecreate = "recreate"
	actionKeep     = "keep"
	actionStop     = "stop"
)

// resultLine is how one api.ServiceResult reads: a symbol, its colour, and what happened.
func resultLine(r api.ServiceResult) (symbol, color, text string) {
	switch r.Outcome {
	case api.OutcomeOK:
		switch r.Action {
		case actionKeep:
			return "=", "", "running already"
		case actionStart:
			return "✔", green, "started"
		case actionRecreate:
			return "✔", green, "recreated"
		case actionStop:
			return "✔", green, "stopped"
		}
		return "✔", green, r.Action
	case api.OutcomeFailed:
		return "✖", red, "failed: " + r.Error
	case api.OutcomeUnreachable:
		return "✖", red, "unreachable: " + r.Error
	case api.OutcomeTimeout:
		return "⏱", yellow, "timeout: " + r.Error
	case api.OutcomeBlocked:
		return "⊘", red, "blocked by " + r.BlockedBy
	}
	text = r.Outcome
	if r.Error != "" {
		text += ": " + r.Error
	}
	return "?", "", text
}

// problem reports whether r is worth a line even with -q.
func problem(r api.ServiceResult) bool { return r.Outcome != api.OutcomeOK }

// writeResults prints one line per result, names aligned, then a summary:
//
//	✔ db     started
//	= cache  running already
//	✖ api    failed: exit status 1
//	⊘ web    blocked by api
//	1 started, 1 running already, 1 failed, 1 blocked
//
// With quiet, only the problems, and no summary. stop says what a stop did instead.
func writeResults(w io.Writer, p palette, rs []api.ServiceResult, stop, quiet bool) {
	width := 0
	for _, r := range rs {
		width = max(width, utf8.RuneCountInString(r.Name))
	}
	for _, r := range rs {
		if quiet && !problem(r) {
			continue
		}
		symbol, color, text := resultLine(r)
		fmt.Fprintf(w, "%s %s  %s\n", p.paint(color, symbol), pad(r.Name, width), text)
	}
	if !quiet {
		fmt.Fprintln(w, summary(rs, stop))
	}
}

// summary counts the results: "2 started, 1 failed, 0 blocked" for a start, "2 stopped, 0
// failed" for a stop; services running already, timed out (and, for a stop, blocked) are
// counted only when there are some.
func summary(rs []api.ServiceResult, stop bool) string {
	var ok, kept, failed, timedOut, blocked int
	for _, r := range rs {
		switch {
		case r.Outcome == api.OutcomeOK && r.Action == actionKeep:
			kept++
		case r.Outcome == api.OutcomeOK:
			ok++
		case r.Outcome == api.OutcomeTimeout:
			timedOut++
		case r.Outcome == api.OutcomeBlocked:
			blocked++
		default:
			failed++
		}
	}
	verb := "started"
	if stop {
		verb = "stopped"
	}
	parts := []string{fmt.Sprintf("%d %s", ok, verb)}
	if kept > 0 {
		parts = append(parts, fmt.Sprintf("%d running already", kept))
	}
	if timedOut > 0 {
		parts = append(parts, fmt.Sprintf("%d timed out", timedOut))
	}
	parts = append(parts, fmt.Sprintf("%d failed", failed))
	if !stop || blocked > 0 {
		parts = append(parts, fmt.Sprintf("%d blocked", blocked))
	}
	return strings.Join(parts, ", ")
}

// resultsError is the exit status of a start or stop that answered rs, already reported: a
// service whose node was unreachable, or blocked by one, is ExitUnreachable; else a service
// that failed, or was blocked by one that failed, is ExitServiceFailed; else one that timed
// out, or was blocked by one that timed out, is ExitTimeout; else nil.
func resultsError(rs []api.ServiceResult) error {
	byName := make(map[string]api.ServiceResult, len(rs))
	for _, r := range rs {
		byName[r.Name] = r
	}
	code := ExitOK
	for _, r := range rs {
		// A blocked service counts as the failure that blocked it.
		for seen := 0; r.Outcome == api.OutcomeBlocked && seen < len(rs); seen++ {
			cause, ok := byName[r.BlockedBy]
			if !ok {
				break
			}
			r = cause
		}
		switch r.Outcome {
		case api.OutcomeOK:
		case api.OutcomeUnreachable:
			code = ExitUnreachable
		case api.OutcomeTimeout:
			if code == ExitOK {
				code = ExitTimeout
			}
		default: // failed, blocked by something not in the plan, or an outcome this CLI does not know
			if code != ExitUnreachable {
				code = ExitServiceFailed
			}
		}
	}
	if code == ExitOK {
		return nil
	}
	return withCode(code, nil)
}

// pad pads s with spaces to width runes.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}
