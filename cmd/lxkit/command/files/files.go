// Package files holds the commands that move files in and out of
// containers: cat, write, push and pull.
package files

import (
	"context"
	"fmt"
	"io"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/transport"
	"github.com/spf13/cobra"
)

// Target is a "NAME:PATH" argument, split.
type Target struct{ Name, Path string }

func (t Target) String() string { return t.Name + ":" + t.Path }

// ParseTarget splits and checks a NAME:PATH argument: a usage error when
// it has no colon or no absolute path, the driver's error for a bad name.
func ParseTarget(s string) (Target, error) {
	name, p, err := cmdutil.SplitTarget(s)
	if err != nil {
		return Target{}, &cmdutil.FlagError{Err: err}
	}
	if err := cmdutil.ValidateNames(name); err != nil {
		return Target{}, err
	}
	return Target{Name: name, Path: p}, nil
}

// CatOptions are the inputs of `lxkit cat`.
type CatOptions struct {
	IO     *iostreams.IOStreams
	Driver func(context.Context) (driver.Driver, error)

	Source Target
}

// NewCmdCat returns `lxkit cat`.
func NewCmdCat(f *cmdutil.Factory, runF func(context.Context, *CatOptions) error) *cobra.Command {
	opts := &CatOptions{IO: f.IOStreams, Driver: f.Driver}
	return &cobra.Command{
		Use:     "cat NAME:PATH",
		Short:   "Print a file of a container",
		Example: `  lxkit cat web:/etc/hostname`,
		Args:    cmdutil.ExactArgs(1, "one NAME:PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Source, err = ParseTarget(args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catRun(cmd.Context(), opts)
		},
	}
}

func catRun(ctx context.Context, opts *CatOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	rc, err := d.Transport(opts.Source.Name).ReadFile(ctx, opts.Source.Path)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(opts.IO.Out, rc); err != nil {
		return fmt.Errorf("reading %s: %w", opts.Source, err)
	}
	return nil
}

// WriteOptions are the inputs of `lxkit write`.
type WriteOptions struct {
	IO     *iostreams.IOStreams
	Driver func(context.Context) (driver.Driver, error)

	Dest Target
	File transport.FileOptions
}

// NewCmdWrite returns `lxkit write`.
func NewCmdWrite(f *cmdutil.Factory, runF func(context.Context, *WriteOptions) error) *cobra.Command {
	opts := &WriteOptions{IO: f.IOStreams, Driver: f.Driver}
	var ff *fileFlags
	cmd := &cobra.Command{
		Use:   "write NAME:PATH [--mode M] [--uid U] [--gid G]",
		Short: "Write standard input to a file of a container",
		Long: `Create or replace a file of a container with what standard input holds.
The mode is octal (default 644); the owner defaults to root.`,
		Example: `  echo hello | lxkit write web:/etc/motd
  lxkit write web:/usr/local/bin/run --mode 755 < run.sh`,
		Args: cmdutil.ExactArgs(1, "one NAME:PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.File, err = ff.read(cmd); err != nil {
				return err
			}
			if opts.Dest, err = ParseTarget(args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return writeRun(cmd.Context(), opts)
		},
	}
	ff = addFileFlags(cmd, "644")
	return cmd
}

// fileFlags are --mode, --uid and --gid of the files a command writes.
type fileFlags struct {
	mode     string
	uid, gid int
}

// addFileFlags adds --mode, --uid and --gid to cmd; defaultMode says
// what a file gets without --mode.
func addFileFlags(cmd *cobra.Command, defaultMode string) *fileFlags {
	ff := &fileFlags{}
	fl := cmd.Flags()
	fl.StringVar(&ff.mode, "mode", "", "file mode in octal (default "+defaultMode+")")
	fl.IntVar(&ff.uid, "uid", 0, "owner's uid (default 0)")
	fl.IntVar(&ff.gid, "gid", 0, "group's gid (default 0)")
	return ff
}

// read returns the file options the flags given say.
func (ff *fileFlags) read(cmd *cobra.Command) (transport.FileOptions, error) {
	var opts transport.FileOptions
	var err error
	if cmd.Flags().Changed("mode") {
		if opts.Mode, err = cmdutil.ParseMode(ff.mode); err != nil {
			return opts, &cmdutil.FlagError{Err: fmt.Errorf("--mode: %w", err)}
		}
	}
	if opts.UID, err = idFlag(cmd, "uid", ff.uid); err != nil {
		return opts, err
	}
	opts.GID, err = idFlag(cmd, "gid", ff.gid)
	return opts, err
}

// given reports whether any of the flags was given.
func (ff *fileFlags) given(cmd *cobra.Command) bool {
	return cmd.Flags().Changed("mode") || cmd.Flags().Changed("uid") || cmd.Flags().Changed("gid")
}

// idFlag returns a pointer to an --uid or --gid value when it was given.
func idFlag(cmd *cobra.Command, name string, v int) (*int, error) {
	if !cmd.Flags().Changed(name) {
		return nil, nil
	}
	if v < 0 {
		return nil, cmdutil.FlagErrorf("--%s must not be negative", name)
	}
	return transport.Int(v), nil
}

func writeRun(ctx context.Context, opts *WriteOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	return d.Transport(opts.Dest.Name).WriteFile(ctx, opts.Dest.Path, opts.IO.In, opts.File)
}
