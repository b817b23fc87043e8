// Package operation is `lxkit operation`: the daemon's background tasks.
package operation

import (
	"context"
	"fmt"
	"io"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/spf13/cobra"
)

// NewCmdOperation returns `lxkit operation` and its subcommands.
func NewCmdOperation(f *cmdutil.Factory) *cobra.Command {
	return objects.Group("operation <command>", "List, show and cancel the daemon's background operations",
		`List, show and cancel the daemon's background operations: running ones and
those that ended in the last few seconds. An ID may start with the container
path of a nested host; "operation list outer/" lists that host's.`,
		NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdCancel(f, nil))
}

// NewCmdList returns `lxkit operation list`. runF, when not nil, runs
// instead (for tests).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *objects.HostOptions) error) *cobra.Command {
	return objects.NewCmdOnHost(f, &cobra.Command{Use: "list [HOST/]", Short: "List operations, oldest first"}, runF, listRun)
}

func listRun(ctx context.Context, o *objects.HostOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	ops, err := h.Operations(ctx)
	if err != nil {
		return err
	}
	if ops == nil {
		ops = []api.Operation{}
	}
	return cmdutil.Print(o.IO, o.Globals.Format, ops, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "ID\tCLASS\tDESCRIPTION\tSTATUS\tCREATED\tCANCELABLE")
		for _, op := range ops {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", op.ID, op.Class, op.Description, op.Status, cmdutil.FormatTime(op.CreatedAt), op.MayCancel)
		}
		return tw.Flush()
	})
}

// Options are the inputs of `lxkit operation show` and `lxkit operation
// cancel`: one operation.
type Options struct {
	objects.Scope
	ID string
}

// NewCmdShow returns `lxkit operation show`. runF, when not nil, runs
// instead (for tests).
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmdOne(f, &cobra.Command{Use: "show [HOST/]ID", Short: "Print an operation (YAML, or --format json)"}, runF, showRun)
}

func showRun(ctx context.Context, o *Options) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	op, err := h.Operation(ctx, o.ID)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, op, func(w io.Writer) error { return cmdutil.WriteYAML(w, op) })
}

// NewCmdCancel returns `lxkit operation cancel`. runF, when not nil, runs
// instead (for tests).
func NewCmdCancel(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmdOne(f, &cobra.Command{Use: "cancel [HOST/]ID", Short: "Cancel an operation (one that has ended is not an error)"}, runF, cancelRun)
}

func cancelRun(ctx context.Context, o *Options) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.CancelOperation(ctx, o.ID); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Cancelled operation %s", o.ID)
	return nil
}

// newCmdOne completes cmd, a command on one operation.
func newCmdOne(f *cmdutil.Factory, cmd *cobra.Command, runF, run func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Scope: objects.NewScope(f)}
	cmd.Args = cmdutil.ExactArgs(1, "one operation ID")
	cmd.RunE = objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
		opts.ID, err = opts.SetHost(args[0], true)
		return err
	}, runF, run)
	return cmd
}
