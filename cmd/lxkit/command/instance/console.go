package instance

import (
	"context"
	"io"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/spf13/cobra"
)

// ConsoleOptions are the inputs of `lxkit console`.
type ConsoleOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name    string
	ShowLog bool
}

// NewCmdConsole returns `lxkit console`.
func NewCmdConsole(f *cmdutil.Factory, runF func(context.Context, *ConsoleOptions) error) *cobra.Command {
	opts := &ConsoleOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "console NAME --show-log",
		Short: "Print what a container wrote to its console (--show-log)",
		Long: `Print what a container wrote to its console, as lxc console --show-log
does: the daemon's buffer of it. The daemons hand out what was written
since the last read, by lxkit or anyone: a read empties the buffer of a
running container. An empty buffer prints nothing.

lxkit has no interactive console: --show-log is required (for a shell in
a container, use lxkit exec NAME -- sh).`,
		Example: `  lxkit console web --show-log
  lxkit console outer/web --show-log --format json`,
		Args: cmdutil.ExactArgs(1, "one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if !opts.ShowLog {
				return cmdutil.FlagErrorf("console: only --show-log is supported: lxkit has no interactive console (for a shell, use lxkit exec %s -- sh)", opts.Name)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if err := cmdutil.ValidateNames(opts.Name); err != nil {
				return err
			}
			return consoleRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowLog, "show-log", false, "print the console's buffer (required)")
	return cmd
}

func consoleRun(ctx context.Context, opts *ConsoleOptions) error {
	h, name, err := openHost(ctx, opts.Driver, opts.Name)
	if err != nil {
		return err
	}
	log, err := h.ConsoleLog(ctx, name)
	if err != nil {
		return err
	}
	out := struct {
		Name string `json:"name"`
		Log  string `json:"log"`
	}{opts.Name, string(log)}
	return cmdutil.Print(opts.IO, opts.Globals.Format, out, func(w io.Writer) error {
		if len(log) == 0 {
			return nil
		}
		if _, err := w.Write(log); err != nil {
			return err
		}
		if log[len(log)-1] != '\n' {
			_, err = io.WriteString(w, "\n")
		}
		return err
	})
}
