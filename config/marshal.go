package config

import (
	"encoding/json"

	"go.yaml.in/yaml/v3"
)

// MarshalJSON writes the stack in the shape of a services file, networks and services as
// objects keyed by name in file order, every default filled in. Reading the output back gives
// the same stack.
func (s *Stack) MarshalJSON() ([]byte, error) {
	type plain Stack // without methods, so Marshal does not recurse
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

// blockStyle clears the flow and quoting styles that JSON input leaves on every node; the
// encoder quotes again only the strings that need it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
