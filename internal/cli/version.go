package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of harness",
		Long: `version prints "harness VERSION (GOVERSION OS/ARCH)".
With -o json: {"version": V, "go": GOVERSION, "os": OS, "arch": ARCH}.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.printVersion() },
	}
}

// versionInfo is the JSON form of version.
type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

func (a *app) printVersion() error {
	v := versionInfo{Version: resolveVersion(a.version), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if a.json() {
		return a.writeJSON(v)
	}
	_, err := fmt.Fprintf(a.stdout, "harness %s (%s %s/%s)\n", v.Version, v.Go, v.OS, v.Arch)
	return err
}

// resolveVersion returns given when set (the linker's -X in cmd/harness), else the main
// module's version from the build info (set by go install module@version), else "dev".
func resolveVersion(given string) string {
	if given != "" {
		return given
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
