package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/config"
)

// load reads the services file that the global flags name, with the variables of the
// environment Main was given. Like config.Load, on a file with errors it returns the partly
// read stack and a *config.Error. A file that does not exist is a usage error naming it.
func (a *app) load(strict bool) (*config.Stack, error) {
	path, source := a.configPath()
	if a.verbose {
		fmt.Fprintf(a.stderr, "harness: config %s (from %s)\n", path, source)
	}
	s, err := config.Load(path, config.Options{Lookup: a.env.Lookup, Strict: strict})
	if s == nil && errors.Is(err, fs.ErrNotExist) {
		return nil, missingConfig(path, source)
	}
	return s, err
}

// missingConfig is the usage error of a config file that does not exist, saying where its
// name came from.
func missingConfig(path, source string) error {
	var err error
	switch source {
	case fromDefault:
		err = fmt.Errorf("config file %s does not exist (use -c FILE or set HARNESS_CONFIG)", path)
	case fromEnv:
		err = fmt.Errorf("config file %s (from $HARNESS_CONFIG) does not exist", path)
	default:
		err = fmt.Errorf("config file %s does not exist", path)
	}
	return withCode(ExitUsage, err)
}

// loadValid is load for the commands that need a valid stack: an invalid one is an error
// (Main prints its diagnostics); the warnings of a valid one go to stderr unless -q.
func (a *app) loadValid() (*config.Stack, error) {
	s, err := a.load(false)
	if err != nil {
		return nil, err
	}
	a.printWarnings(s)
	return s, nil
}

// completeServices completes a SERVICE argument with the names of the stack's services.
func (a *app) completeServices(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	path, _ := a.configPath()
	s, _ := config.Load(path, config.Options{Lookup: a.env.Lookup})
	if s == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(s.Services))
	for _, svc := range s.Services {
		names = append(names, svc.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeServiceList completes any number of SERVICE arguments with the names of the
// stack's services not given yet.
func (a *app) completeServiceList(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	names, dir := a.completeServices(cmd, nil, toComplete)
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(args, n) })
	return names, dir
}

// service returns the service called name, or a usage error listing the known ones.
func service(s *config.Stack, name string) (*config.Service, error) {
	if svc := s.Service(name); svc != nil {
		return svc, nil
	}
	if len(s.Services) == 0 {
		return nil, withCode(ExitUsage, fmt.Errorf("unknown service %q (the stack has no services)", name))
	}
	known := make([]string, len(s.Services))
	for i, svc := range s.Services {
		known[i] = svc.Name
	}
	return nil, withCode(ExitUsage, fmt.Errorf("unknown service %q (known: %s)", name, strings.Join(known, ", ")))
}
