// Package exec holds `lxkit exec`: run a command in a container with its
// output streamed live and its exit status passed on.
package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/transport"
	"github.com/spf13/cobra"
)

// Options are the inputs of `lxkit exec`.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name    string
	Args    []string
	User    string
	Group   string
	Dir     string
	Env     map[string]string
	Timeout time.Duration
	TTY     bool
}

// NewCmdExec returns `lxkit exec`.
func NewCmdExec(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var env []string
	var timeout cmdutil.Duration
	var tty, noTTY bool
	cmd := &cobra.Command{
		Use:   "exec NAME [flags] -- CMD [ARG...]",
		Short: "Run a command in a container",
		Long: `Run a command in a container, without a shell (wrap it in sh -c for one).

Its standard output and error stream live to lxkit's own, separately, and
lxkit exits with the command's exit status (127 when the command does not
exist). Standard input is passed to the command unless it is a terminal.

When lxkit's standard input and output are both terminals, the command
runs on a terminal, as with lxc exec: -T never gives it one, -t always
does. On a terminal, lxkit's own (when it is one) is put in raw mode, and
the window size follows it. Output then arrives on standard output only.

Ctrl-C (or SIGTERM) ends the command: it gets SIGTERM, then SIGKILL.`,
		Example: `  lxkit exec web -- cat /etc/os-release
  lxkit exec web --user lxkit --cwd /tmp --env DEBUG=1 -- sh -c 'id; pwd'
  lxkit exec web -t -- sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return cmdutil.FlagErrorf("expected a container name and a command (lxkit exec NAME -- CMD [ARG...])")
			}
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return cmdutil.FlagErrorf("expected one container name before --, got %d arguments", dash)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Args = args[0], args[1:]
			var err error
			if opts.Env, err = cmdutil.ParseConfig(env, true); err != nil {
				return &cmdutil.FlagError{Err: fmt.Errorf("--env: %w", err)}
			}
			opts.Timeout = time.Duration(timeout)
			if tty && noTTY {
				return cmdutil.FlagErrorf("-t (a terminal) and -T (none): give one")
			}
			opts.TTY = tty || !noTTY && opts.IO.IsStdinTTY() && opts.IO.IsStdoutTTY()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return execRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.User, "user", "u", "", "run as this user (name or uid; default root)")
	fl.StringVarP(&opts.Group, "group", "g", "", "run with this group (name or gid; default the user's)")
	fl.StringVar(&opts.Dir, "cwd", "", "working directory (default the user's home)")
	fl.StringArrayVarP(&env, "env", "e", nil, "environment variable K=V, repeatable")
	fl.Var(&timeout, "timeout", "end the command after this long (default: no limit)")
	fl.BoolVarP(&tty, "tty", "t", false, "run the command on a terminal, always (default: when stdin and stdout are terminals)")
	fl.BoolVarP(&noTTY, "no-tty", "T", false, "never run the command on a terminal")
	return cmd
}

func execRun(ctx context.Context, opts *Options) error {
	if err := cmdutil.ValidateNames(opts.Name); err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	ios := opts.IO
	cmd := transport.Command{
		Args:    opts.Args,
		Stdout:  ios.Out,
		Stderr:  ios.ErrOut,
		Env:     opts.Env,
		Dir:     opts.Dir,
		User:    opts.User,
		Group:   opts.Group,
		Timeout: opts.Timeout,
		TTY:     opts.TTY,
	}
	if !ios.IsStdinTTY() || opts.TTY {
		cmd.Stdin = ios.In
	}
	if opts.TTY {
		if w, h, ok := ios.TerminalSize(); ok {
			cmd.Size = transport.WindowSize{Width: w, Height: h}
			resize, stop := watchSize(ios)
			defer stop()
			cmd.Resize = resize
		}
		restore, err := ios.MakeStdinRaw()
		if err != nil {
			return fmt.Errorf("terminal: %w", err)
		}
		defer restore()
	}
	res, err := d.Transport(opts.Name).Exec(ctx, cmd)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		if res != nil && res.ExitCode > 0 {
			// The command ran and was ended (a timeout, Ctrl-C): say why,
			// and pass its exit status on.
			return &cmdutil.ExitError{Code: res.ExitCode, Err: err}
		}
		return err
	}
	if res.ExitCode != 0 {
		return &cmdutil.ExitError{Code: res.ExitCode}
	}
	return nil
}

// watchSize sends the terminal's size on every SIGWINCH.
func watchSize(ios *iostreams.IOStreams) (<-chan transport.WindowSize, func()) {
	sizes := make(chan transport.WindowSize, 1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	quit := make(chan struct{})
	go func() {
		defer close(sizes)
		for {
			select {
			case <-quit:
				return
			case <-sig:
				w, h, ok := ios.TerminalSize()
				if !ok {
					continue
				}
				select {
				case sizes <- transport.WindowSize{Width: w, Height: h}:
				case <-quit:
					return
				}
			}
		}
	}()
	return sizes, func() { signal.Stop(sig); close(quit) }
}
