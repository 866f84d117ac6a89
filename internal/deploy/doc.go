// Package deploy is harness's package format: the manifest.yaml model and its loader, Build,
// which turns a package directory into a reproducible .tar.gz, and Load, which reads and checks
// a package from a directory or from such an archive. Uploading, releases and rollback come in
// later (docs/packages.md).
//
// A package directory:
//
//	manifest.yaml        name, version, service {executable, args, working_dir, ports,
//	                     health_check}, dependencies, environment, requires {commands}
//	bin/NAME             the executable (any relative path inside, with an executable bit)
//	scripts/setup.sh     optional, each one an executable file: setup once per release,
//	scripts/start.sh     start and stop instead of supervising the executable directly
//	scripts/stop.sh
//	config/…             templates, packed as they are
//	…                    anything else, packed too
//
// Everything under the directory is packed, except names starting with "." (anywhere) and
// .tar.gz files at the top (earlier builds written into the directory itself).
//
// Invariants:
//   - Checks come first, writes after: Build reads the whole directory and checks the manifest
//     and every entry before it writes a byte, and returns every problem at once as a
//     *config.Error whose diagnostics name the file (FILE:LINE:COL for the manifest). Load
//     applies the same checks to a directory or an archive.
//   - Nothing leads out of a package: the manifest's paths are relative without "..", and
//     symbolic links are relative and resolve (as the kernel will, link by link) to an entry
//     of the package. Devices, fifos and sockets are refused; files are read through an
//     os.Root, so a directory changed during a build cannot make it read outside.
//   - Reproducible: the same content gives the same bytes. The archive lists manifest.yaml
//     first, then every entry sorted by name (a directory, "NAME/", before its contents);
//     every mtime is the epoch, owners are 0:0 with no names, modes are 0755 for directories
//     and for files with any executable bit, 0644 for other files, 0777 for links; the gzip
//     header has no name, mtime 0 and OS 255, at a fixed compression level. The bytes can
//     change only with the Go compressor of a different harness build.
//
// Concurrency: Build, Load and ParseManifest share nothing and may run concurrently; a
// Manifest is plain data, read-only once returned.
package deploy
