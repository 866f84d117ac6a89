package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/graph-network-harness/harness/config"
)

// json reports whether -o json is in effect.
func (a *app) json() bool { return a.output == outputJSON }

// human is where text for people goes: stdout, except with -o json, where stdout holds only
// the JSON document.
func (a *app) human() io.Writer {
	if a.json() {
		return a.stderr
	}
	return a.stdout
}

// writeJSON writes v to stdout as indented JSON and a newline.
func (a *app) writeJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = a.stdout.Write(append(b, '\n'))
	return err
}

// member is one key and value of an object.
type member struct {
	key   string
	value any
}

// object is a JSON object whose members keep their order, unlike a map's.
type object []member

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// printDiagnostics writes each diagnostic on its own line to stderr, as FILE:LINE:COL: message.
func (a *app) printDiagnostics(ds config.Diagnostics) {
	p := a.colors(a.stderr)
	for _, d := range ds {
		line := d.String()
		if d.Severity == config.SeverityWarning {
			line = strings.Replace(line, ": warning: ", ": "+p.paint(yellow, "warning:")+" ", 1)
		}
		fmt.Fprintln(a.stderr, line)
	}
}

// printWarnings writes the warnings of a valid stack to stderr, unless -q.
func (a *app) printWarnings(s *config.Stack) {
	if !a.quiet {
		a.printDiagnostics(s.Warnings)
	}
}

// countProblems says how many errors and warnings ds holds: "3 errors, 1 warning".
func countProblems(ds config.Diagnostics) string {
	s := plural(len(ds.Errors()), "error")
	if n := len(ds.Warnings()); n > 0 {
		s += ", " + plural(n, "warning")
	}
	return s
}

// plural writes n and noun, with an s when n is not 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
