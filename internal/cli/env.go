package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/graph-network-harness/harness/config"
)

// env is the environment Main was given, in order. A later definition of a name wins, as in
// os/exec.
type env []string

// Lookup returns the value of name and whether it is set; it is the config.Lookup of a run.
func (e env) Lookup(name string) (string, bool) { return config.EnvironLookup(e)(name) }

// get returns the value of name, empty when unset.
func (e env) get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// The sources of the config file's path, as -v and error messages name them.
const (
	fromFlag    = "-c"
	fromEnv     = "$HARNESS_CONFIG"
	fromDefault = "default"
)

// configPath returns the services file to read and where its name came from: -c, else
// $HARNESS_CONFIG, else services.yaml in the working directory.
func (a *app) configPath() (path, source string) {
	switch {
	case a.configFlag != "":
		return a.configFlag, fromFlag
	case a.env.get("HARNESS_CONFIG") != "":
		return a.env.get("HARNESS_CONFIG"), fromEnv
	}
	return "services.yaml", fromDefault
}

// dataDir returns the daemon's data dir, absolute: --data-dir, else $HARNESS_DATA_DIR, else
// $XDG_STATE_HOME/harness, else ~/.local/state/harness. XDG_STATE_HOME counts only when it is
// absolute, as the XDG spec says.
func (a *app) dataDir() (string, error) {
	dir := a.dataDirFlag
	if dir == "" {
		dir = a.env.get("HARNESS_DATA_DIR")
	}
	if dir == "" {
		if state := a.env.get("XDG_STATE_HOME"); filepath.IsAbs(state) {
			dir = filepath.Join(state, "harness")
		}
	}
	if dir == "" {
		home := a.env.get("HOME")
		if home == "" {
			return "", errors.New("no data dir: HOME is not set; use --data-dir or set HARNESS_DATA_DIR")
		}
		dir = filepath.Join(home, ".local", "state", "harness")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return abs, nil
}
