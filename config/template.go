package config

import (
	"fmt"
	"strings"
)

// Properties of a service that a ${service.property} reference can name.
const (
	PropIP   = "ip"   // the address the caller reaches the service at
	PropPort = "port" // the service's first port, as seen from the caller
	PropHost = "host" // a name or address of the service's host
	PropAddr = "addr" // ip:port
)

var properties = []string{PropIP, PropPort, PropHost, PropAddr}

// Ref is a reference to a property of another service, written ${service.property}.
type Ref struct {
	Service  string
	Property string
}

// String renders the reference as it is written in a file.
func (r Ref) String() string { return "${" + r.Service + "." + r.Property + "}" }

// Template is a string value whose service references are resolved when the service starts,
// because only then is it known where the referenced service runs. Environment variables were
// substituted when the file was read; a Template without references is a plain string.
type Template struct {
	parts []part
}

// part is literal text or, when ref.Service is set, a service reference.
type part struct {
	text string
	ref  Ref
	pos  Pos // where the reference was written, for diagnostics
}

// Literal returns a Template that renders to s.
func Literal(s string) Template {
	if s == "" {
		return Template{}
	}
	return Template{parts: []part{{text: s}}}
}

// ParseTemplate reads the canonical form that MarshalText writes: "$$" is a literal "$" and
// ${service.property} a reference. Environment variables are not substituted.
func ParseTemplate(s string) (Template, error) {
	var t Template
	return t, t.UnmarshalText([]byte(s))
}

// IsZero reports whether t renders to the empty string.
func (t Template) IsZero() bool { return len(t.parts) == 0 }

// Refs returns the service references of t in order.
func (t Template) Refs() []Ref {
	var refs []Ref
	for _, p := range t.parts {
		if p.ref.Service != "" {
			refs = append(refs, p.ref)
		}
	}
	return refs
}

// Resolver returns the value of a service reference for the service being started.
type Resolver func(Ref) (string, error)

// Render returns t with each reference replaced by what resolve returns for it.
func (t Template) Render(resolve Resolver) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref.Service == "" {
			b.WriteString(p.text)
			continue
		}
		v, err := resolve(p.ref)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p.ref, err)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// String is the canonical form (see MarshalText).
func (t Template) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref.Service != "" {
			b.WriteString(p.ref.String())
		} else {
			b.WriteString(strings.ReplaceAll(p.text, "$", "$$"))
		}
	}
	return b.String()
}

// MarshalText writes the canonical form: literal "$" doubled, references as ${service.property}.
// Reading it back as a file value gives the same Template.
func (t Template) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads the canonical form.
func (t *Template) UnmarshalText(b []byte) error {
	nodes, err := parseInterpolation(string(b))
	if err != nil {
		return err
	}
	var out Template
	for _, n := range nodes {
		switch n := n.(type) {
		case litNode:
			out.add(part{text: string(n)})
		case refNode:
			out.add(part{ref: n.ref})
		default:
			return fmt.Errorf("%q: only $$ and ${service.property} are allowed here", b)
		}
	}
	*t = out
	return nil
}

// add appends p, merging adjacent literal text.
func (t *Template) add(p part) {
	if p.ref.Service == "" {
		if p.text == "" {
			return
		}
		if n := len(t.parts); n > 0 && t.parts[n-1].ref.Service == "" {
			t.parts[n-1].text += p.text
			return
		}
	}
	t.parts = append(t.parts, p)
}

// literal returns the text of t when it holds no reference.
func (t Template) literal() (string, bool) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref.Service != "" {
			return "", false
		}
		b.WriteString(p.text)
	}
	return b.String(), true
}
