package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// EnvironLookup is the Lookup of an environment written as NAME=value entries, the form of
// os.Environ; a later entry of a name wins, as in os/exec.
func EnvironLookup(environ []string) Lookup {
	return func(name string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(environ[i], name+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}

// EnvVar is one environment variable of a service.
type EnvVar struct {
	Name  string
	Value Template
}

// Env is an environment in the order it was written; a later definition of a name replaces
// an earlier one in place.
type Env []EnvVar

func (e Env) index(name string) int {
	for i, v := range e {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// Lookup returns the value of name.
func (e Env) Lookup(name string) (Template, bool) {
	if i := e.index(name); i >= 0 {
		return e[i].Value, true
	}
	return Template{}, false
}

// With returns e with name set to value: replaced in place when present, appended otherwise.
// e itself is not modified.
func (e Env) With(name string, value Template) Env {
	out := append(Env(nil), e...)
	if i := out.index(name); i >= 0 {
		out[i].Value = value
		return out
	}
	return append(out, EnvVar{Name: name, Value: value})
}

// MarshalJSON writes the environment as an object whose keys keep their order.
func (e Env) MarshalJSON() ([]byte, error) {
	return orderedJSON(e, func(v EnvVar) (string, any) { return v.Name, v.Value })
}

// orderedJSON writes items as a JSON object in their order; kv gives each item's key and value.
func orderedJSON[T any](items []T, kv func(T) (string, any)) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		k, v := kv(it)
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// word is one word of a command line, its byte offset, and the offset in the line of each
// of its bytes (quotes and backslashes take bytes of the line but not of the word).
type word struct {
	text string
	off  int
	offs []int
}

// at returns the offset in the line of byte i of the word.
func (w word) at(i int) int {
	if i >= 0 && i < len(w.offs) {
		return w.offs[i]
	}
	return w.off + i
}

// splitWords splits a command line into words as a POSIX shell would without expanding
// anything: blanks separate, single quotes keep everything, double quotes keep everything but
// backslash escapes of " and \, a backslash outside quotes escapes the next byte.
func splitWords(s string) ([]word, error) {
	var out []word
	var b strings.Builder
	var offs []int
	add := func(i int) {
		b.WriteByte(s[i])
		offs = append(offs, i)
	}
	inWord, start := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, word{b.String(), start, offs})
				b.Reset()
				offs = nil
				inWord = false
			}
			continue
		case !inWord:
			inWord, start = true, i
		}
		switch c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d", i+1)
			}
			for k := i + 1; k < i+1+j; k++ {
				add(k)
			}
			i += j + 1
		case '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
				}
				add(j)
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated double quote at byte %d", i+1)
			}
			i = j
		case '\\':
			if i+1 < len(s) {
				i++
				add(i)
			}
		default:
			add(i)
		}
	}
	if inWord {
		out = append(out, word{b.String(), start, offs})
	}
	return out, nil
}
