package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// fields records, for one mapping of the file, where each key's value was written. Validation
// uses it to point at the exact value, and to tell a value the user wrote from a default.
type fields map[string]Pos

// at returns the position of key's value, or fallback when the key was not written.
func (f fields) at(key string, fallback Pos) Pos {
	if p, ok := f[key]; ok {
		return p
	}
	return fallback
}

// has reports whether key was written.
func (f fields) has(key string) bool {
	_, ok := f[key]
	return ok
}

// maxNodes bounds the nodes one file may expand to, so aliases cannot blow up a load.
const maxNodes = 1 << 20

// decoder turns yaml.Nodes into the typed model, interpolating every scalar and reporting
// every problem with its position instead of stopping at the first.
type decoder struct {
	file   string
	c      *collector
	x      *expander
	budget int
	// merging holds the mappings whose merge keys are being expanded, to refuse a cycle.
	merging map[*yaml.Node]bool
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

// node follows aliases and charges the budget; nil means the budget is spent.
func (d *decoder) node(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.budget--
	if d.budget == 0 {
		d.c.errorf(d.pos(n), "the file expands to more than %d values (aliases?)", maxNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// handlers decode the value of each known key of a mapping.
type handlers map[string]func(v *yaml.Node)

// mapping decodes a mapping node key by key in file order: "x-" keys are ignored, "<<" merge
// keys are expanded (explicit keys win), duplicate and unknown keys are errors.
func (d *decoder) mapping(n *yaml.Node, what string, h handlers) fields {
	f := fields{}
	if n = d.node(n); n == nil || isNull(n) {
		return f
	}
	if n.Kind != yaml.MappingNode {
		d.c.errorf(d.pos(n), "%s: want a mapping, got %s", what, kindName(n))
		return f
	}
	for _, kv := range d.pairs(n, nil) {
		key, v := kv[0].Value, kv[1]
		if strings.HasPrefix(key, "x-") {
			continue
		}
		if _, dup := f[key]; dup {
			d.c.errorf(d.pos(kv[0]), "%s: key %q is already defined", what, key)
			continue
		}
		fn, ok := h[key]
		if !ok {
			d.c.errorf(d.pos(kv[0]), "%s: unknown key %q%s", what, key, Hint(key, keys(h)))
			continue
		}
		f[key] = d.pos(v)
		fn(v)
	}
	return f
}

// pairs lists the key/value pairs of a mapping with merge keys expanded; seen holds keys of
// an outer mapping, which win over merged ones.
func (d *decoder) pairs(n *yaml.Node, seen map[string]bool) [][2]*yaml.Node {
	if d.merging == nil {
		d.merging = map[*yaml.Node]bool{}
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	var out [][2]*yaml.Node
	var merged []*yaml.Node
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.c.errorf(d.pos(k), "keys must be strings, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" || k.Value == "<<" && k.Style == 0 {
			merged = append(merged, d.mergeSources(v)...)
			continue
		}
		own[k.Value] = true
		if !seen[k.Value] {
			out = append(out, [2]*yaml.Node{k, v})
		}
	}
	all := map[string]bool{}
	for k := range seen {
		all[k] = true
	}
	for k := range own {
		all[k] = true
	}
	for _, m := range merged {
		for _, kv := range d.pairs(m, all) {
			all[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// mergeSources returns the mappings a merge key names: one, or a list of them. A mapping
// that merges itself (through an alias of an enclosing anchor) is an error, not a recursion.
func (d *decoder) mergeSources(v *yaml.Node) []*yaml.Node {
	src := v
	if v = d.node(v); v == nil {
		return nil
	}
	items := []*yaml.Node{src}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	var out []*yaml.Node
	for _, item := range items {
		m := d.node(item)
		if m == nil {
			continue
		}
		if m.Kind != yaml.MappingNode {
			d.c.errorf(d.pos(m), "merge key: want a mapping, got %s", kindName(m))
			continue
		}
		if d.merging[m] {
			d.c.errorf(d.pos(item), "merge key: a mapping cannot merge itself")
			continue
		}
		out = append(out, m)
	}
	return out
}

// each calls fn for each key of a mapping whose keys are names (services, networks), in order.
func (d *decoder) each(n *yaml.Node, what string, fn func(k, v *yaml.Node)) {
	if n = d.node(n); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.c.errorf(d.pos(n), "%s: want a mapping of names, got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for _, kv := range d.pairs(n, nil) {
		if strings.HasPrefix(kv[0].Value, "x-") {
			continue
		}
		if seen[kv[0].Value] {
			d.c.errorf(d.pos(kv[0]), "%s: %q is already defined", what, kv[0].Value)
			continue
		}
		seen[kv[0].Value] = true
		fn(kv[0], kv[1])
	}
}

// list calls fn for each item of a sequence.
func (d *decoder) list(n *yaml.Node, what string, fn func(v *yaml.Node)) {
	if n = d.node(n); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.c.errorf(d.pos(n), "%s: want a list, got %s", what, kindName(n))
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
		d.c.errorf(d.pos(n), "%s: want a single value, got %s", what, kindName(n))
		return nil
	}
	return n
}

// offsets maps a byte offset inside a scalar to a file position. It is exact for one-line
// plain and single-quoted values: YAML columns count characters, not bytes, and a ' inside
// single quotes is written twice. A double-quoted value with escapes before the offset may be
// off by the length of the escapes; a multi-line value maps to its first character.
func (d *decoder) offsets(n *yaml.Node) func(int) Pos {
	p := d.pos(n)
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || strings.Contains(n.Value, "\n") {
		return func(int) Pos { return p }
	}
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	single := n.Style&yaml.SingleQuotedStyle != 0
	return func(off int) Pos {
		off = min(max(off, 0), len(n.Value))
		q := p
		q.Col += utf8.RuneCountInString(n.Value[:off])
		if quoted {
			q.Col++
		}
		if single {
			q.Col += strings.Count(n.Value[:off], "'")
		}
		return q
	}
}

// tmpl decodes an interpolated string that may hold service references.
func (d *decoder) tmpl(n *yaml.Node, what string) Template {
	if n = d.scalar(n, what); n == nil || isNull(n) {
		return Template{}
	}
	return d.x.expand(n.Value, d.offsets(n), true, what)
}

// str decodes an interpolated string with no service references.
func (d *decoder) str(n *yaml.Node, what string) string {
	if n = d.scalar(n, what); n == nil || isNull(n) {
		return ""
	}
	s, _ := d.x.expand(n.Value, d.offsets(n), false, what).literal()
	return s
}

// strs decodes a list of strings; a single string is a list of one. It also returns where
// each string was written.
func (d *decoder) strs(n *yaml.Node, what string) ([]string, []Pos) {
	if n = d.node(n); n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{d.str(n, what)}, []Pos{d.pos(n)}
	}
	var out []string
	var at []Pos
	d.list(n, what, func(v *yaml.Node) {
		out = append(out, d.str(v, what))
		at = append(at, d.pos(v))
	})
	return out, at
}

// tmpls decodes a list of templates.
func (d *decoder) tmpls(n *yaml.Node, what string) []Template {
	var out []Template
	d.list(n, what, func(v *yaml.Node) { out = append(out, d.tmpl(v, what)) })
	return out
}

// words decodes a command: a list, or one string split into words as a shell would (quotes
// group, no expansion).
func (d *decoder) words(n *yaml.Node, what string) []Template {
	if n = d.node(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return d.tmpls(n, what)
	}
	ws, err := splitWords(n.Value)
	if err != nil {
		d.c.errorf(d.pos(n), "%s: %v", what, err)
		return nil
	}
	at := d.offsets(n)
	out := make([]Template, len(ws))
	for i, w := range ws {
		out[i] = d.x.expand(w.text, func(off int) Pos { return at(w.at(off)) }, true, what)
	}
	return out
}

// integer decodes an interpolated integer.
func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	if n = d.scalar(n, what); n == nil {
		return 0, false
	}
	s := d.str(n, what)
	i, err := strconv.Atoi(s)
	if err != nil {
		d.c.errorf(d.pos(n), "%s: want an integer, got %q", what, s)
		return 0, false
	}
	return i, true
}

// number decodes an interpolated floating-point number.
func (d *decoder) number(n *yaml.Node, what string) float64 {
	if n = d.scalar(n, what); n == nil {
		return 0
	}
	s := d.str(n, what)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.c.errorf(d.pos(n), "%s: want a number, got %q", what, s)
	}
	return f
}

// duration decodes "1m30s" or bare integer seconds; it must be positive, or zero when allowed.
func (d *decoder) duration(n *yaml.Node, what string, zeroOK bool) Duration {
	if n = d.scalar(n, what); n == nil {
		return 0
	}
	s := d.str(n, what)
	var v time.Duration
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		v = time.Duration(secs) * time.Second
	} else if v, err = time.ParseDuration(s); err != nil {
		d.c.errorf(d.pos(n), "%s: want a duration such as \"10s\", \"1m30s\" or integer seconds, got %q", what, s)
		return 0
	}
	if v < 0 || v == 0 && !zeroOK {
		d.c.errorf(d.pos(n), "%s: duration must be positive, got %q", what, s)
		return 0
	}
	return Duration(v)
}

// stringMap decodes a mapping of strings, or a list of "key=value".
func (d *decoder) stringMap(n *yaml.Node, what string) map[string]string {
	env := d.env(n, what)
	if len(env) == 0 {
		return nil
	}
	m := make(map[string]string, len(env))
	for _, e := range env {
		m[e.Name], _ = e.Value.literal()
	}
	return m
}

// env decodes an environment: a mapping, or a list of "NAME=value" (a bare "NAME" takes the
// value of the harness command's environment, and is left out when that is unset).
func (d *decoder) env(n *yaml.Node, what string) Env {
	if n = d.node(n); n == nil || isNull(n) {
		return nil
	}
	var out Env
	if n.Kind == yaml.MappingNode {
		for _, kv := range d.pairs(n, nil) {
			name := kv[0].Value
			if out.index(name) >= 0 {
				d.c.errorf(d.pos(kv[0]), "%s: %q is already defined", what, name)
				continue
			}
			out = append(out, EnvVar{Name: name, Value: d.tmpl(kv[1], what+"."+name)})
		}
		return out
	}
	d.list(n, what, func(v *yaml.Node) {
		if v = d.scalar(v, what); v == nil {
			return
		}
		name, value, ok := strings.Cut(v.Value, "=")
		if !ok {
			if val, set := d.x.lookup(name); set {
				out = out.With(name, Literal(val))
			}
			return
		}
		at := d.offsets(v)
		out = out.With(name, d.x.expand(value, func(off int) Pos { return at(len(name) + 1 + off) }, true, what+"."+name))
	})
	return out
}

func keys(h handlers) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Hint suggests the known word closest to an unknown one: "; did you mean %q?", or "" when
// none is close. For the decoders of other YAML files harness reads (package manifests).
func Hint(key string, known []string) string {
	best, bestDist := "", len(key)/2+1
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// self is the position of the entity itself: its key, or its mapping.
func (f fields) self() Pos { return f["."] }
