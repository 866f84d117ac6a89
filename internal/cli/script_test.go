package cli_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/graph-network-harness/harness/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the cmp files of testdata/script/*.txtar from the actual output")

// TestMain makes this test binary double as the harness command: testscript puts a copy
// named harness on the PATH of every script, and running it runs cli.Main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"harness": func() {
			os.Exit(cli.Main(context.Background(), cli.Options{
				Args:    os.Args[1:],
				Stdin:   os.Stdin,
				Stdout:  os.Stdout,
				Stderr:  os.Stderr,
				Environ: os.Environ(),
			}))
		},
	})
}

// TestScripts runs the end-to-end scripts under testdata/script: each one drives the harness
// binary in its own empty work directory, with an environment of testscript's making (HOME is
// /no-home, no HARNESS_ variable is set). -update rewrites their cmp files.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
	})
}
