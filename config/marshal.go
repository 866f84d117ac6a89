package config

import (
	"encoding/json"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MarshalJSON writes the stack in the shape of a services file, networks and services as
// objects keyed by name in file order, every default filled in. Reading the output back gives
// the same stack.
func (s *Stack) MarshalJSON() ([]byte, error) {
	type plain Stack // without methods, so Marshal does not recurse
	s = escapeDollars(reflect.ValueOf(s)).Interface().(*Stack)
	networks, err := orderedJSON(s.Networks, func(n *Network) (string, any) { return n.Name, n })
	if err != nil {
		return nil, err
	}
	services, err := orderedJSON(s.Services, func(svc *Service) (string, any) { return svc.Name, svc })
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		*plain
		Networks json.RawMessage `json:"networks"`
		Services json.RawMessage `json:"services"`
	}{(*plain)(s), networks, services})
}

// MarshalYAML writes the same document as MarshalJSON, in block-style YAML.
func (s *Stack) MarshalYAML() (any, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	blockStyle(&doc)
	return doc.Content[0], nil
}

// MarshalJSON writes Command as a string when reading it back gives the same one word, and
// else as a list of one word: a string is split into words when read, so a command with a
// space or a quote in it would change.
func (h HealthCheck) MarshalJSON() ([]byte, error) {
	type plain HealthCheck // without methods, so Marshal does not recurse
	out := struct {
		Command any `json:"command,omitempty"` // first, where the plain field would be
		plain
	}{plain: plain(h)}
	if !h.Command.IsZero() {
		out.Command = h.Command
		text := h.Command.String()
		if ws, err := splitWords(text); err != nil || len(ws) != 1 || ws[0].text != text {
			out.Command = []Template{h.Command}
		}
	}
	return json.Marshal(out)
}

// blockStyle clears the flow and quoting styles that JSON input leaves on every node; the
// encoder quotes again only the strings that need it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// escapeDollars returns a deep copy of v in which "$" is doubled in every string that is
// written as a value (exported fields, list items, map values), because every such value is
// interpolated when the file is read back. Templates escape themselves; keys are never
// interpolated, so map keys, fields written as keys (json:"-") and EnvVar.Name are left alone.
func escapeDollars(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(strings.ReplaceAll(v.String(), "$", "$$"))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(escapeDollars(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(escapeDollars(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), escapeDollars(it.Value()))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v) // unexported fields too
		if v.Type() == reflect.TypeFor[Template]() {
			return out
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" || v.Type() == reflect.TypeFor[EnvVar]() && f.Name == "Name" {
				continue
			}
			out.Field(i).Set(escapeDollars(v.Field(i)))
		}
		return out
	}
	return v
}
