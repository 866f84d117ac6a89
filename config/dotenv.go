package config

import (
	"fmt"
	"os"
	"strings"
)

// readDotenv reads a dotenv file: NAME=value lines, "export " allowed, "#" comments, single
// quotes literal, double quotes with \n \t \" \\ escapes. Unquoted and double-quoted values are
// interpolated against lookup and the lines above. Diagnostics name the file as display. A
// missing file is reported by the caller.
func readDotenv(path, display string, c *collector, lookup Lookup) (Env, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var env Env
	x := &expander{c: c, lookup: func(name string) (string, bool) {
		if v, ok := env.Lookup(name); ok {
			s, _ := v.literal()
			return s, true
		}
		return lookup(name)
	}}
	for i, line := range strings.Split(string(data), "\n") {
		p := Pos{File: display, Line: i + 1, Col: 1}
		trimmed := strings.TrimLeft(line, " \t")
		p.Col += len(line) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t\r")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if rest, ok := strings.CutPrefix(trimmed, "export "); ok {
			p.Col += len(trimmed) - len(strings.TrimLeft(rest, " \t"))
			trimmed = strings.TrimLeft(rest, " \t")
		}
		eq := strings.IndexByte(trimmed, '=')
		if eq < 0 || !isName(strings.TrimRight(trimmed[:eq], " \t")) {
			c.errorf(p, "want NAME=value, got %q", trimmed)
			continue
		}
		name, rest := strings.TrimRight(trimmed[:eq], " \t"), trimmed[eq+1:]
		raw := strings.TrimLeft(rest, " \t")
		col := p.Col + eq + 1 + len(rest) - len(raw)
		if raw != "" && (raw[0] == '"' || raw[0] == '\'') {
			col++
		}
		value, interpolate, err := unquote(raw)
		if err != nil {
			c.errorf(Pos{display, i + 1, col}, "%s: %v", name, err)
			continue
		}
		at := func(off int) Pos { return Pos{display, i + 1, col + off} }
		v := Literal(value)
		if interpolate {
			v = x.expand(value, at, false, "an env file")
		}
		env = env.With(name, v)
	}
	return env, nil
}

// unquote returns the value of a dotenv right-hand side and whether it is interpolated.
func unquote(raw string) (string, bool, error) {
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", false, fmt.Errorf("unterminated single quote")
		}
		return raw[1 : 1+end], false, nil
	case strings.HasPrefix(raw, `"`):
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			switch c := raw[i]; {
			case c == '"':
				return b.String(), true, nil
			case c == '\\' && i+1 < len(raw):
				i++
				b.WriteString(map[byte]string{'n': "\n", 't': "\t", 'r': "\r"}[raw[i]])
				if !strings.ContainsRune("ntr", rune(raw[i])) {
					b.WriteByte(raw[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", false, fmt.Errorf("unterminated double quote")
	}
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimRight(raw, " \t"), true, nil
}
