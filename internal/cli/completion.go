package cli

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
)

func (a *app) completionCmd() *cobra.Command {
	shells := []string{"bash", "zsh", "fish"}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `completion prints the completion script of a shell. For example:

  bash:  source <(harness completion bash)
  zsh:   harness completion zsh > "${fpath[1]}/_harness"
  fish:  harness completion fish > ~/.config/fish/completions/harness.fish`,
		ValidArgs: shells,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := oneArg("a shell (bash, zsh or fish)")(cmd, args); err != nil {
				return err
			}
			if !slices.Contains(shells, args[0]) {
				return &usageError{fmt.Errorf("unknown shell %q; want bash, zsh or fish", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "zsh":
				return root.GenZshCompletion(a.stdout)
			case "fish":
				return root.GenFishCompletion(a.stdout, true)
			}
			return root.GenBashCompletionV2(a.stdout, true)
		},
	}
}
