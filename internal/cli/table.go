package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// cell is one value of a table, with the colour it is painted in (none: "").
type cell struct {
	text, color string
}

// writeTable writes header and rows as columns two spaces apart, each as wide as its widest
// value. Widths are counted on the text, never on colour codes, which text/tabwriter would
// count: a table lines up the same with colours and without.
func writeTable(w io.Writer, p palette, header []string, rows [][]cell) error {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	line := func(cells []cell) {
		for i, c := range cells {
			b.WriteString(p.paint(c.color, c.text)) // the value only, not its padding
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]+2-utf8.RuneCountInString(c.text)))
			}
		}
		b.WriteByte('\n')
	}
	head := make([]cell, len(header))
	for i, h := range header {
		head[i] = cell{text: h}
	}
	line(head)
	for _, row := range rows {
		line(row)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTableNotes prints a table, then each note on a line of its own.
func writeTableNotes(w io.Writer, p palette, header []string, rows [][]cell, notes []string) error {
	if err := writeTable(w, p, header, rows); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}
