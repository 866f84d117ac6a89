package cli

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func (a *app) configShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the normalized stack",
		Long: `show prints the stack as harness reads it: variables substituted, every default
filled in, networks and services in file order. The output is itself a valid
services file (YAML; with -o json, the same document as JSON).`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.configShow() },
	}
}

func (a *app) configShow() error {
	s, err := a.loadValid()
	if err != nil {
		return err
	}
	if a.json() {
		return a.writeJSON(s)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	_, err = a.stdout.Write(b.Bytes())
	return err
}
