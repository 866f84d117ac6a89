package config

import (
	"fmt"
	"strings"
)

// The syntax of values, as compose has it, plus service references:
//
//	$$                      a literal $
//	$NAME, $ alone          left alone (shell snippets keep working)
//	${NAME}                 the variable; unset: empty, with a warning
//	${NAME:-word} ${NAME-word}   default when unset or empty / when unset
//	${NAME:?word} ${NAME?word}   error when unset or empty / when unset
//	${NAME:+word} ${NAME+word}   word when set and non-empty / when set
//	${service.property}     a service reference, kept for the resolver
//
// Words may nest further ${…}. Names match [A-Za-z_][A-Za-z0-9_]*. One departure from compose
// (docs/adr/0001): in ${name-word} a name with a lowercase letter is read as a hyphenated name,
// which is invalid, because service names are lowercase and hyphenated and ${my-svc} is far more
// often a broken reference than a default.

// ipNode is a node of a parsed value: litNode, refNode or varNode.
type ipNode any

type litNode string

type refNode struct {
	ref Ref
	off int // byte offset of "${"
}

type varNode struct {
	name string
	op   string // "", ":-", "-", ":?", "?", ":+", "+"
	arg  []ipNode
	off  int
}

// syntaxError is a malformed ${…} at a byte offset of the value.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// parseInterpolation parses a value into literal text, variables and references.
func parseInterpolation(s string) ([]ipNode, error) {
	p := &ipParser{s: s}
	nodes, err := p.seq(false)
	if err != nil {
		return nil, err
	}
	return nodes, nil
}

type ipParser struct {
	s string
	i int
}

// seq parses up to the end of the value or, inside a word, up to the closing brace.
func (p *ipParser) seq(inWord bool) ([]ipNode, error) {
	var out []ipNode
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, litNode(lit.String()))
			lit.Reset()
		}
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '}' && inWord:
			flush()
			return out, nil
		case c != '$':
			lit.WriteByte(c)
			p.i++
		case strings.HasPrefix(p.s[p.i:], "$$"):
			lit.WriteByte('$')
			p.i += 2
		case !strings.HasPrefix(p.s[p.i:], "${"):
			lit.WriteByte('$')
			p.i++
		default:
			flush()
			n, err := p.brace()
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	}
	flush()
	return out, nil
}

// brace parses one ${…} starting at p.i.
func (p *ipParser) brace() (ipNode, error) {
	start := p.i
	p.i += 2
	w := p.i
	for p.i < len(p.s) && isWordByte(p.s[p.i]) {
		p.i++
	}
	word := p.s[w:p.i]
	if k := strings.IndexAny(word, "-."); k > 0 && word[k] == '-' && isName(word[:k]) && !hasLower(word[:k]) {
		p.i = w + k // ${NAME-word}
		word = word[:k]
	} else if strings.Contains(word, ".") {
		return p.ref(start, word)
	}
	if p.i >= len(p.s) {
		return nil, p.unterminated(start)
	}
	if !isName(word) || !strings.ContainsRune("}:-?+", rune(p.s[p.i])) {
		return nil, p.invalidName(start, w)
	}
	n := varNode{name: word, off: start}
	switch c := p.s[p.i]; c {
	case '}':
		p.i++
		return n, nil
	case ':':
		if p.i+1 >= len(p.s) || !strings.ContainsRune("-?+", rune(p.s[p.i+1])) {
			return nil, p.invalidName(start, w)
		}
		n.op = p.s[p.i : p.i+2]
		p.i += 2
	default:
		n.op = string(c)
		p.i++
	}
	arg, err := p.seq(true)
	if err != nil {
		return nil, err
	}
	if p.i >= len(p.s) {
		return nil, p.unterminated(start)
	}
	p.i++ // the closing brace
	n.arg = arg
	return n, nil
}

// ref parses the rest of ${service.property}; word is "service.property".
func (p *ipParser) ref(start int, word string) (ipNode, error) {
	if p.i >= len(p.s) {
		return nil, p.unterminated(start)
	}
	if p.s[p.i] != '}' {
		return nil, &syntaxError{start, fmt.Sprintf("%s: a service reference takes no default or modifier", p.upToBrace(start))}
	}
	p.i++
	text := p.s[start:p.i]
	svc, prop, _ := strings.Cut(word, ".")
	if !validName(svc) {
		return nil, &syntaxError{start, fmt.Sprintf("%s: invalid service name %q", text, svc)}
	}
	if !isProperty(prop) {
		return nil, &syntaxError{start, fmt.Sprintf("%s: unknown property %q of service %q (want %s)", text, prop, svc, strings.Join(properties, ", "))}
	}
	return refNode{ref: Ref{Service: svc, Property: prop}, off: start}, nil
}

func (p *ipParser) unterminated(start int) error {
	return &syntaxError{start, fmt.Sprintf("%s: missing closing brace", p.s[start:])}
}

func (p *ipParser) invalidName(start, w int) error {
	text := p.upToBrace(start)
	name := strings.TrimSuffix(text[w-start:], "}")
	msg := fmt.Sprintf("%s: invalid variable name %q (names match [A-Za-z_][A-Za-z0-9_]*)", text, name)
	if strings.Contains(name, "-") && validName(strings.Split(name, "-")[0]) {
		msg += fmt.Sprintf("; for a default write ${%s:-…}, for a service write ${%s.ip}", strings.Split(name, "-")[0], strings.TrimRight(name, "!?:+}"))
	}
	return &syntaxError{start, msg}
}

// upToBrace returns the text from start through the next closing brace (or the end).
func (p *ipParser) upToBrace(start int) string {
	if k := strings.IndexByte(p.s[start:], '}'); k >= 0 {
		return p.s[start : start+k+1]
	}
	return p.s[start:]
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isName reports whether s is a valid variable name.
func isName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c != '_' && !('0' <= c && c <= '9') && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func hasLower(s string) bool { return strings.ToUpper(s) != s }

func isProperty(s string) bool {
	for _, p := range properties {
		if s == p {
			return true
		}
	}
	return false
}

// Lookup returns the value of an environment variable and whether it is set.
type Lookup func(name string) (string, bool)

// expander evaluates parsed values against the environment, reporting problems to a collector.
type expander struct {
	lookup Lookup
	c      *collector
}

// expand interpolates s. at maps a byte offset of s to a position in the file. When refs is
// false, a service reference is an error naming where: this value is not resolved per caller.
func (e *expander) expand(s string, at func(off int) Pos, refs bool, where string) Template {
	nodes, err := parseInterpolation(s)
	if err != nil {
		se := err.(*syntaxError)
		e.c.errorf(at(se.off), "%s", se.msg)
		return Literal(s)
	}
	var t Template
	e.eval(nodes, at, &t)
	if !refs {
		for _, p := range t.parts {
			if p.ref.Service != "" {
				e.c.errorf(p.pos, "%s: a service reference cannot be used in %s (only in args, command, entrypoint, env and health checks)", p.ref, where)
			}
		}
	}
	return t
}

func (e *expander) eval(nodes []ipNode, at func(off int) Pos, t *Template) {
	for _, n := range nodes {
		switch n := n.(type) {
		case litNode:
			t.add(part{text: string(n)})
		case refNode:
			t.add(part{ref: n.ref, pos: at(n.off)})
		case varNode:
			e.evalVar(n, at, t)
		}
	}
}

func (e *expander) evalVar(n varNode, at func(off int) Pos, t *Template) {
	val, set := e.lookup(n.name)
	empty := !set || val == ""
	switch {
	case n.op == "":
		if !set {
			e.c.unset(at(n.off), n.name)
		}
		t.add(part{text: val})
	case n.op == ":-" && empty, n.op == "-" && !set, n.op == ":+" && !empty, n.op == "+" && set:
		e.eval(n.arg, at, t)
	case n.op == ":?" && empty, n.op == "?" && !set:
		var msg Template
		e.eval(n.arg, at, &msg)
		what := "unset"
		if n.op == ":?" {
			what = "unset or empty"
		}
		if m := msg.String(); m != "" {
			e.c.errorf(at(n.off), "required variable %s is %s: %s", n.name, what, m)
		} else {
			e.c.errorf(at(n.off), "required variable %s is %s", n.name, what)
		}
	case n.op == ":+" || n.op == "+":
		// set-alternative not taken: nothing
	default:
		t.add(part{text: val})
	}
}
