package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/graph-network-harness/harness/internal/deploy"
)

func (a *app) packageCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "package DIR [-o FILE]",
		Short: "Build a package archive from a package directory",
		Long: `package builds the package directory DIR (manifest.yaml, bin/, scripts/, config/, …)
into the .tar.gz that harness deploys. It checks manifest.yaml and every file first and
writes nothing when it finds a problem: each one is printed as FILE:LINE:COL: message (or
FILE: message), and the exit status is 2. The archive is reproducible: the same content
gives the same bytes, so the same SHA-256, whatever the mtimes, owners and modes beyond
"executable or not". It needs no daemon. The format: docs/packages.md.

The archive is -o FILE, else NAME-VERSION.tar.gz in the current directory. It is written
to a temporary file beside it and renamed into place, so it is never half-written. Then
package prints
  NAME VERSION  FILE  SIZE bytes  sha256:HEX
With -o json (or --json), stdout holds one object:
  {"name": N, "version": V, "file": F, "size": BYTES, "sha256": HEX}

Here -o also names the archive: -o table and -o json set the output format as for every
command, any other value is the file (write ./json for a file named json).`,
		Args: oneArg("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error { return a.buildPackage(cmd.Context(), args[0], file) },
	}
	// The global -o keeps working here: this flag of the same name shadows it and passes the
	// formats on.
	cmd.Flags().VarP(&packageOutput{format: &a.output, file: &file}, "output", "o",
		"the archive to write (default NAME-VERSION.tar.gz), or the output format: table or json")
	return cmd
}

// packageOutput is package's -o: an output format (table, json) as for every command, or
// else the archive to write.
type packageOutput struct {
	format *output
	file   *string
}

func (p *packageOutput) String() string {
	if p.file == nil {
		return ""
	}
	return *p.file
}

func (p *packageOutput) Set(s string) error {
	switch {
	case s == "":
		return errors.New("want a file name, table or json")
	case output(s) == outputTable || output(s) == outputJSON:
		*p.format = output(s)
	default:
		*p.file = s
	}
	return nil
}

func (p *packageOutput) Type() string { return "FILE|table|json" }

// packageReport is the JSON form of what package built.
type packageReport struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	File    string `json:"file"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

func (a *app) buildPackage(ctx context.Context, dir, file string) error {
	switch info, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return withCode(ExitUsage, fmt.Errorf("package directory %s does not exist", dir))
	case err != nil:
		return err
	case !info.IsDir():
		return withCode(ExitUsage, fmt.Errorf("%s is not a directory; want a package directory holding a manifest.yaml", dir))
	}
	if file == "" {
		m, err := deploy.Load(dir)
		if err != nil {
			return err
		}
		file = m.ArchiveName()
	}
	res, err := writePackage(ctx, dir, file)
	if err != nil {
		return err
	}
	r := packageReport{Name: res.Manifest.Name, Version: res.Manifest.Version, File: file, Size: res.Size, SHA256: res.SHA256}
	switch {
	case a.json():
		return a.writeJSON(r)
	case a.quiet:
		return nil
	}
	_, err = fmt.Fprintf(a.stdout, "%s %s  %s  %d bytes  sha256:%s\n", r.Name, r.Version, r.File, r.Size, r.SHA256)
	return err
}

// writePackage builds dir into a temporary file beside file, and renames it to file once it
// is whole and synced. On any error the temporary file goes and file is left as it was.
func writePackage(ctx context.Context, dir, file string) (res deploy.Result, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return res, fmt.Errorf("write package: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<16)
	if res, err = deploy.Build(ctx, dir, w); err != nil {
		return res, err // a *config.Error as it is: its diagnostics name the files
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp makes it 0600; an archive is not secret
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return res, fmt.Errorf("write package %s: %w", file, err)
	}
	return res, nil
}
