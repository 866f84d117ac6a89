package cli

import "github.com/spf13/cobra"

// configCmd groups the commands that show the resolved config without a daemon.
func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the resolved config: show, deps, env, schema",
		Long: `config shows what harness makes of the services file, without a daemon:
the normalized stack (show), the start order (deps), the environment of a
service (env), and the JSON Schema of the file format (schema).`,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.configShowCmd(), a.configDepsCmd(), a.configEnvCmd(), a.configSchemaCmd())
	return cmd
}
