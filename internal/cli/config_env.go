package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/config"
)

func (a *app) configEnvCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "env SERVICE",
		Short: "Print the environment variables harness sets for SERVICE",
		Long: `env prints the variables harness sets for SERVICE, one NAME=value per line: its
env_file and env, then HARNESS_STACK, HARNESS_SERVICE and, for each dependency D,
D_HOST, D_PORT and D_ADDR (unless env sets them). Service references are shown as
the file alone resolves them, before anything runs; the running stack may use
other addresses.

--all puts the inherited environment (this command's) first, so the output is the
whole environment a process service would get; containers and remote services do
not inherit it, so for them --all changes nothing.

With -o json, stdout holds one object {NAME: value}, in the same order.`,
		Args:              oneArg("SERVICE"),
		ValidArgsFunction: a.completeServices,
		RunE:              func(_ *cobra.Command, args []string) error { return a.configEnv(args[0], all) },
	}
	cmd.Flags().BoolVar(&all, "all", false, "include the inherited environment")
	return cmd
}

func (a *app) configEnv(name string, all bool) error {
	s, err := a.loadValid()
	if err != nil {
		return err
	}
	svc, err := service(s, name)
	if err != nil {
		return err
	}
	vars, err := s.Environ(svc, s.StaticResolver(svc))
	if err != nil {
		return err
	}
	if all {
		if svc.Type == config.TypeProcess {
			vars = append(inherited(a.env, vars), vars...)
		} else if !a.quiet {
			fmt.Fprintf(a.stderr, "harness: %s is a %s service: it does not inherit this environment\n", svc.Name, svc.Type)
		}
	}
	if a.json() {
		obj := make(object, len(vars))
		for i, v := range vars {
			k, val, _ := strings.Cut(v, "=")
			obj[i] = member{k, val}
		}
		return a.writeJSON(obj)
	}
	for _, v := range vars {
		if _, err := fmt.Fprintln(a.stdout, v); err != nil {
			return err
		}
	}
	return nil
}

// inherited returns the variables of e that a process keeps under vars: each name once, at
// its last definition, and none that vars sets.
func inherited(e env, vars []string) []string {
	set := map[string]bool{}
	for _, v := range vars {
		k, _, _ := strings.Cut(v, "=")
		set[k] = true
	}
	last := map[string]int{}
	for i, v := range e {
		k, _, _ := strings.Cut(v, "=")
		last[k] = i
	}
	var out []string
	for i, v := range e {
		k, _, ok := strings.Cut(v, "=")
		if ok && !set[k] && last[k] == i {
			out = append(out, v)
		}
	}
	return out
}
