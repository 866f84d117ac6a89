package cli

import (
	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/config"
)

func (a *app) configSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of services.yaml",
		Long: `schema prints the JSON Schema of the services file, for editors and linters.
It is JSON whatever -o says.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.configSchema() },
	}
}

func (a *app) configSchema() error {
	b, err := config.Schema()
	if err != nil {
		return err
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	_, err = a.stdout.Write(b)
	return err
}
