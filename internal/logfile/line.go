package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

const (
	// timeLayout is the fixed-width stamp that starts every line: UTC, nine fractional
	// digits, trailing zeros kept, so that lines sort and merge by time as strings.
	timeLayout = "2006-01-02T15:04:05.000000000Z"
	timeLen    = len(timeLayout) // 30

	// maxText is the longest text one line carries; longer output is split.
	maxText = 64 << 10
	// maxStream bounds a stream tag, so that a reader can bound a line.
	maxStream = 32
	// maxLine is the longest record a reader accepts, newline included.
	maxLine = timeLen + 1 + maxStream + 1 + maxText + 1
)

// Line is one line of a service's output as stored in its log file.
type Line struct {
	Time   time.Time // when harness read the line from the service, in UTC
	Stream string    // "stdout", "stderr", or "harness" for harness's own notes
	Text   string    // the output without its newline, bytes as the service wrote them
}

// ParseLine parses one stored line, "TIME STREAM TEXT", with or without its
// trailing newline.
func ParseLine(b []byte) (Line, error) {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	if len(b) < timeLen+2 || b[timeLen] != ' ' {
		return Line{}, fmt.Errorf("parse line %.40q: want %q followed by a space", b, timeLayout)
	}
	t, err := parseTime(b[:timeLen])
	if err != nil {
		return Line{}, fmt.Errorf("parse line %.40q: %w", b, err)
	}
	rest := b[timeLen+1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || sp > maxStream {
		return Line{}, fmt.Errorf("parse line %.40q: want a stream tag followed by a space", b)
	}
	return Line{Time: t, Stream: streamName(rest[:sp]), Text: string(rest[sp+1:])}, nil
}

// streamName returns the usual tags without allocating one string per line.
func streamName(b []byte) string {
	switch string(b) { // no allocation: the compiler compares the bytes
	case "stdout":
		return "stdout"
	case "stderr":
		return "stderr"
	case "harness":
		return "harness"
	}
	return string(b)
}

// appendTime appends t in the fixed-width layout.
func appendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, timeLayout)
}

// parseTime parses the fixed-width layout by hand: it is on the path of every line read,
// and the layout leaves nothing to guess.
func parseTime(b []byte) (time.Time, error) {
	if len(b) != timeLen || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || b[19] != '.' || b[29] != 'Z' {
		return time.Time{}, errors.New("bad time stamp")
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var v [7]int
	for i, f := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 29}} {
		n, ok := num(b[f[0]:f[1]])
		if !ok {
			return time.Time{}, errors.New("bad time stamp")
		}
		v[i] = n
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6], time.UTC)
	// time.Date normalizes out-of-range fields (month 13, hour 25); a stamp that does
	// not survive the round trip was not written by us.
	if t.Month() != time.Month(v[1]) || t.Day() != v[2] || t.Hour() != v[3] ||
		t.Minute() != v[4] || t.Second() != v[5] {
		return time.Time{}, errors.New("time stamp out of range")
	}
	return t, nil
}

// checkStream reports whether s can be a stream tag: short, and free of the space and
// control bytes that delimit a stored line.
func checkStream(s string) error {
	if s == "" || len(s) > maxStream {
		return fmt.Errorf("stream tag %q: want 1 to %d bytes", s, maxStream)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return fmt.Errorf("stream tag %q: want no space or control byte", s)
		}
	}
	return nil
}
