package cli

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// palette colours text for one stream, or leaves it plain.
type palette struct{ on bool }

// ANSI colours that output uses.
const (
	red     = "\x1b[31m"
	green   = "\x1b[32m"
	yellow  = "\x1b[33m"
	blue    = "\x1b[34m"
	magenta = "\x1b[35m"
	cyan    = "\x1b[36m"
	bold    = "\x1b[1m"
	reset   = "\x1b[0m"

	brightGreen   = "\x1b[92m"
	brightYellow  = "\x1b[93m"
	brightBlue    = "\x1b[94m"
	brightMagenta = "\x1b[95m"
	brightCyan    = "\x1b[96m"
)

// colors returns the palette for w: colour only when w is a terminal, --no-color is not
// given, NO_COLOR is unset or empty (no-color.org) and TERM is not "dumb".
func (a *app) colors(w io.Writer) palette {
	if a.noColor || a.env.get("NO_COLOR") != "" || a.env.get("TERM") == "dumb" {
		return palette{}
	}
	return palette{on: isTerminal(w)}
}

// paint wraps s in color when the palette is on; an empty color leaves s plain.
func (p palette) paint(color, s string) string {
	if !p.on || s == "" || color == "" {
		return s
	}
	return color + s + reset
}

// isTerminal reports whether f, a reader or a writer, is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS)
	return err == nil
}
