// Package image is `lxkit image`: a host's images (list, show, delete,
// aliases, publish, copy to another host), moving them to and from files
// (export, import) and serving image files to hosts as a simplestreams
// image server (serve).
package image

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// NewCmdImage returns `lxkit image` and its subcommands.
func NewCmdImage(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image <command>",
		Short: "Manage images: list, aliases, publish, copy, export, import, serve",
		Long: `Manage a host's images: list, show and delete them, name them with aliases,
make them from containers (publish), copy them to other hosts, move them to and
from files, and serve image files to hosts as a simplestreams server.

An image is one file (a unified tarball: metadata.yaml, templates/ and rootfs/)
or two (a split image: its metadata tarball, then its rootfs), as 'lxc image
export' writes them. Its fingerprint is the SHA-256 of its file(s).`,
		Args: cmdutil.ExactArgs(0, "a subcommand: list, show, delete, alias, publish, copy, export, import or serve"),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(ManageCmds(f, nil)...)
	cmd.AddCommand(NewCmdExport(f, nil), NewCmdImport(f, nil), NewCmdServe(f, nil))
	return cmd
}

// ExportOptions are the inputs of `lxkit image export`.
type ExportOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Ref string
	Dir string
}

// NewCmdExport returns `lxkit image export`. runF replaces the run function
// in tests.
func NewCmdExport(f *cmdutil.Factory, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "export REF [DIR]",
		Short: "Write an image's file(s) into a directory",
		Long: `Write the file(s) of the image REF (an alias, or a fingerprint or a unique
prefix of one) into DIR (default: the current directory), named as the host
names them: FINGERPRINT.tar.xz for a unified image, meta-FINGERPRINT.EXT and
FINGERPRINT.EXT for a split one. Files of those names are replaced. The paths
written are printed, one a line, and checked against the image's fingerprint.`,
		Example: `  lxkit image export testimage
  lxkit --host /var/lib/incus/unix.socket image export a7a3ac44f933 /srv/images`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cmdutil.FlagErrorf("%s: expected REF [DIR]", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref, opts.Dir = args[0], "."
			if len(args) == 2 {
				opts.Dir = args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	opts.Driver = cmdutil.OnFlag(cmd.Flags(), opts.Driver)
	return cmd
}

func exportRun(ctx context.Context, opts *ExportOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Exporting "+opts.Ref, true)
	files, err := host.New(d.API()).Images().Export(ctx, opts.Ref, opts.Dir, host.ExportOptions{Progress: byteProgress(p)})
	p.Stop()
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(opts.IO.Out, f)
	}
	return nil
}

// byteProgress shows a host.Progress's byte counts on the progress line.
func byteProgress(p *cmdutil.Progress) func(host.Progress) {
	var shown int64
	return func(r host.Progress) {
		p.SetTotal(r.Total)
		p.Add(r.Bytes - shown)
		shown = r.Bytes
	}
}

// ImportOptions are the inputs of `lxkit image import`.
type ImportOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Files      []string
	Aliases    []string
	Public     bool
	Properties map[string]string
}

// NewCmdImport returns `lxkit image import`. runF replaces the run function
// in tests.
func NewCmdImport(f *cmdutil.Factory, runF func(context.Context, *ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var props []string
	cmd := &cobra.Command{
		Use:   "import FILE [ROOTFS] [--alias A]... [--public] [--property KEY=VALUE]...",
		Short: "Make an image of its file(s) and print its fingerprint",
		Long: `Make an image on the host of FILE (a unified tarball) or of FILE and ROOTFS
(a split image's metadata tarball, then its rootfs), and print its
fingerprint. An image the host has already is not sent again; its aliases
are still set. --alias makes (or moves) an alias, --public and --property
apply to an image the import makes. Files that are not an image's are
refused before anything is sent.`,
		Example: `  lxkit image import a7a3ac44f933....tar.xz --alias busybox
  lxkit image import meta-debian.tar.xz debian.squashfs --alias debian --property os=debian`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cmdutil.FlagErrorf("%s: expected FILE [ROOTFS]", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			var err error
			if opts.Properties, err = cmdutil.ParseConfig(props, false); err != nil {
				return &cmdutil.FlagError{Err: fmt.Errorf("--property: %w", err)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return importRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Aliases, "alias", nil, "alias to make (or move) on the host, repeatable")
	fl.BoolVar(&opts.Public, "public", false, "make the image public (any client may pull it)")
	fl.StringArrayVarP(&props, "property", "p", nil, "property KEY=VALUE, repeatable")
	opts.Driver = cmdutil.OnFlag(fl, opts.Driver)
	return cmd
}

func importRun(ctx context.Context, opts *ImportOptions) error {
	for _, f := range opts.Files {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Importing "+strings.Join(opts.Files, " "), true)
	fp, err := host.New(d.API()).Images().Import(ctx, opts.Files, host.ImportOptions{
		Aliases: opts.Aliases, Public: opts.Public, Properties: opts.Properties, Progress: byteProgress(p),
	})
	p.Stop()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(opts.IO.Out, fp)
	return err
}
