package deploy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/graph-network-harness/harness/config"
)

// decoder turns the yaml.Node tree of a manifest into a Manifest, reporting every problem
// with its place instead of stopping at the first. It is the manifest's own small version of
// the config package's decoder (which is not exported): no interpolation, no merge keys. It
// descends only into the values the manifest's shape expects, a few levels deep, so aliases
// cannot make it visit much more than the file holds.
type decoder struct {
	file  string
	diags config.Diagnostics
}

func (d *decoder) pos(n *yaml.Node) config.Pos {
	return config.Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(p config.Pos, format string, args ...any) {
	d.diags = append(d.diags, config.Diagnostic{Pos: p, Severity: config.SeverityError, Message: fmt.Sprintf(format, args...)})
}

// node follows aliases.
func (d *decoder) node(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// mapping decodes a mapping key by key in file order with the handler of each key, and
// returns where each key's value was written. "x-" keys are ignored (extension fields, as in
// services.yaml); duplicate and unknown keys are errors, the latter with a "did you mean".
func (d *decoder) mapping(n *yaml.Node, what string, keys map[string]func(*yaml.Node)) map[string]config.Pos {
	written := map[string]config.Pos{}
	if n = d.node(n); n == nil || isNull(n) {
		return written
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(d.pos(n), "%s: want a mapping, got %s", what, describe(n))
		return written
	}
	d.pairs(n, what, func(k, v *yaml.Node) {
		if strings.HasPrefix(k.Value, "x-") {
			return
		}
		if _, dup := written[k.Value]; dup {
			d.errorf(d.pos(k), "%s: key %q is already defined", what, k.Value)
			return
		}
		fn, ok := keys[k.Value]
		if !ok {
			known := make([]string, 0, len(keys))
			for key := range keys {
				known = append(known, key)
			}
			slices.Sort(known)
			d.errorf(d.pos(k), "%s: unknown key %q%s", what, k.Value, config.Hint(k.Value, known))
			return
		}
		written[k.Value] = d.pos(v)
		fn(v)
	})
	return written
}

// each calls fn for each key of a mapping whose keys are names (environment, headers).
func (d *decoder) each(n *yaml.Node, what string, fn func(k, v *yaml.Node)) {
	if n = d.node(n); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(d.pos(n), "%s: want a mapping of names to values, got %s", what, describe(n))
		return
	}
	seen := map[string]bool{}
	d.pairs(n, what, func(k, v *yaml.Node) {
		if seen[k.Value] {
			d.errorf(d.pos(k), "%s: %q is already defined", what, k.Value)
			return
		}
		seen[k.Value] = true
		fn(k, v)
	})
}

// pairs calls fn for each key and value of a mapping whose key is a plain string.
func (d *decoder) pairs(n *yaml.Node, what string, fn func(k, v *yaml.Node)) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.node(n.Content[i]), n.Content[i+1]
		switch {
		case k == nil:
		case k.Kind != yaml.ScalarNode:
			d.errorf(d.pos(k), "%s: keys must be strings, got %s", what, describe(k))
		case k.Tag == "!!merge" || k.Value == "<<" && k.Style == 0:
			d.errorf(d.pos(k), "%s: merge keys (<<) are not supported in a manifest", what)
		default:
			fn(k, v)
		}
	}
}

// list calls fn for each item of a sequence; null is an empty list.
func (d *decoder) list(n *yaml.Node, what string, fn func(v *yaml.Node)) {
	if n = d.node(n); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(d.pos(n), "%s: want a list, got %s", what, describe(n))
		return
	}
	for _, v := range n.Content {
		fn(v)
	}
}

// scalar returns a scalar node, or nil after reporting what was found instead.
func (d *decoder) scalar(n *yaml.Node, what string) *yaml.Node {
	if n = d.node(n); n == nil {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(d.pos(n), "%s: want a single value, got %s", what, describe(n))
		return nil
	}
	return n
}

// str decodes a string, as written (null is empty).
func (d *decoder) str(n *yaml.Node, what string) string {
	if n = d.scalar(n, what); n == nil || isNull(n) {
		return ""
	}
	return n.Value
}

// integer decodes an integer.
func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	if n = d.scalar(n, what); n == nil {
		return 0, false
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil || isNull(n) {
		d.errorf(d.pos(n), "%s: want an integer, got %s", what, describe(n))
		return 0, false
	}
	return i, true
}

// count decodes an integer that must be at least 1.
func (d *decoder) count(n *yaml.Node, what string) int {
	i, ok := d.integer(n, what)
	if ok && i < 1 {
		d.errorf(d.pos(n), "%s must be at least 1", what)
	}
	return i
}

// duration decodes "1m30s" or bare integer seconds; it must be positive, or zero when allowed.
func (d *decoder) duration(n *yaml.Node, what string, zeroOK bool) config.Duration {
	if n = d.scalar(n, what); n == nil {
		return 0
	}
	s := n.Value
	var v time.Duration
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		v = time.Duration(secs) * time.Second
	} else if v, err = time.ParseDuration(s); err != nil || isNull(n) {
		d.errorf(d.pos(n), "%s: want a duration such as \"10s\", \"1m30s\" or integer seconds, got %s", what, describe(n))
		return 0
	}
	if v < 0 || v == 0 && !zeroOK {
		d.errorf(d.pos(n), "%s: duration must be positive, got %q", what, s)
		return 0
	}
	return config.Duration(v)
}

// words decodes a command: a list, or one string split into words as a shell would (quotes
// group, a backslash escapes, nothing is expanded).
func (d *decoder) words(n *yaml.Node, what string) []string {
	if n = d.node(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		var out []string
		d.list(n, what, func(v *yaml.Node) { out = append(out, d.str(v, what)) })
		return out
	}
	var out []string
	var b strings.Builder
	inWord := false
	s := n.Value
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out, inWord = append(out, b.String()), false
				b.Reset()
			}
			continue
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if c == '"' && s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				d.errorf(d.pos(n), "%s: unterminated %c quote", what, c)
				return nil
			}
			i = j
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		out = append(out, b.String())
	}
	return out
}
