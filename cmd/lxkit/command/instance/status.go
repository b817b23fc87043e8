package instance

import (
	"context"
	"fmt"
	"io"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/spf13/cobra"
)

// NameOptions are the inputs of the commands that read one container:
// status, show and state.
type NameOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name string
}

func newNameCmd(f *cmdutil.Factory, cmd *cobra.Command, runF, run func(context.Context, *NameOptions) error) *cobra.Command {
	opts := &NameOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd.Args = cmdutil.ExactArgs(1, "one container name")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Name = args[0]
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		if err := cmdutil.ValidateNames(opts.Name); err != nil {
			return err
		}
		return run(cmd.Context(), opts)
	}
	return cmd
}

// NewCmdStatus returns `lxkit status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:   "status NAME",
		Short: "Print a container's status: running, stopped, frozen, ...",
		Long: `Print a container's status in one lower-case word: running, stopped,
frozen, ... A missing container is an error (exit status 1).`,
	}, runF, statusRun)
}

func statusRun(ctx context.Context, opts *NameOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	status, err := d.Status(ctx, opts.Name)
	if err != nil {
		return err
	}
	out := struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}{opts.Name, status}
	return cmdutil.Print(opts.IO, opts.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, status)
		return err
	})
}
