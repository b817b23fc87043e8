// Package command is the lxkit command line: Main builds the command tree,
// runs it and turns its outcome into an exit status.
//
// Exit statuses: 0 for success, the command's own for `lxkit exec`, 1 for
// errors (one "Error: ..." line on stderr) and 2 for usage errors.
package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cluster"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/config"
	"github.com/lxkit/lxkit/cmd/lxkit/command/declare"
	execcmd "github.com/lxkit/lxkit/cmd/lxkit/command/exec"
	"github.com/lxkit/lxkit/cmd/lxkit/command/files"
	"github.com/lxkit/lxkit/cmd/lxkit/command/image"
	"github.com/lxkit/lxkit/cmd/lxkit/command/instance"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/job"
	"github.com/lxkit/lxkit/cmd/lxkit/command/monitor"
	"github.com/lxkit/lxkit/cmd/lxkit/command/network"
	"github.com/lxkit/lxkit/cmd/lxkit/command/operation"
	"github.com/lxkit/lxkit/cmd/lxkit/command/profile"
	"github.com/lxkit/lxkit/cmd/lxkit/command/project"
	"github.com/lxkit/lxkit/cmd/lxkit/command/remote"
	"github.com/lxkit/lxkit/cmd/lxkit/command/snapshot"
	"github.com/lxkit/lxkit/cmd/lxkit/command/storage"
	"github.com/lxkit/lxkit/cmd/lxkit/command/trust"
	"github.com/lxkit/lxkit/cmd/lxkit/command/version"
	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Main runs lxkit with the process's arguments and streams and returns
// the exit status. SIGINT and SIGTERM cancel the running command; a second
// one kills lxkit at once.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default handlers: the next signal kills
	}()
	return Run(ctx, cmdutil.NewFactory(iostreams.System()), os.Args[1:])
}

// Run runs lxkit with args and returns the exit status.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	// The completion functions serve only the shell's requests (cobra's
	// hidden __complete command): every other run skips hooking them
	// into the tree.
	completing := len(args) > 0 && strings.HasPrefix(args[0], cobra.ShellCompRequestCmd)
	root := newCmdRoot(f, completing)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	errOut := f.IOStreams.ErrOut
	var exit *cmdutil.ExitError
	switch {
	case errors.As(err, &exit):
		if exit.Err != nil {
			fmt.Fprintf(errOut, "Error: %s\n", oneLine(exit.Err))
		}
		return exit.Code
	case cmdutil.IsUsage(err):
		fmt.Fprintf(errOut, "Error: %s\n", oneLine(err))
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(errOut, "Error: interrupted")
		return ExitError
	}
	fmt.Fprintf(errOut, "Error: %s\n", oneLine(err))
	return ExitError
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.TrimSpace(err.Error())), " ")
}

// NewCmdRoot returns the lxkit command with its global flags and every
// subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command { return newCmdRoot(f, true) }

// newCmdRoot is NewCmdRoot, with the dynamic completion of arguments and
// flag values only when completion says so.
func newCmdRoot(f *cmdutil.Factory, completion bool) *cobra.Command {
	g := f.Globals
	root := &cobra.Command{
		Use:   "lxkit <command> [flags]",
		Short: "Manage LXD and Incus containers",
		Long: `lxkit manages the containers of a local LXD or Incus daemon, the same way
for both. --host picks the daemon (a socket path or unix:// URL); without it
lxkit uses the first socket it finds ($LXD_DIR, $INCUS_DIR, the LXD snap,
/var/lib/lxd, /var/lib/incus). --driver cli drives it through its own
command (lxc or incus) instead of its API; with it, --host may also name one
of that command's remotes.

Containers nested in containers that run LXD themselves are named by path:
"outer/inner" is the container inner of the LXD inside outer, at any depth.`,
		Example: `  lxkit launch web --image testimage
  lxkit --host /var/lib/incus/unix.socket list
  lxkit exec web -- uname -a
  lxkit launch outer/inner --image testimage
  lxkit exec outer/middle/inner -- hostname`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Args is set so that cobra hands unknown commands to RunE, which
		// makes them usage errors.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return cmdutil.FlagErrorf("%s", msg)
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// Left out, they have defaults; given empty, they name nothing.
			for name, what := range map[string]string{"host": "remote", "project": "project"} {
				if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed && fl.Value.String() == "" {
					return cmdutil.FlagErrorf("--%s: empty: leave it out for the default %s", name, what)
				}
			}
			if g.RequestTimeout <= 0 {
				return cmdutil.FlagErrorf("--request-timeout %s: give a positive duration, e.g. 2m", g.RequestTimeout)
			}
			return cmdutil.ValidateFormat(g.Format)
		},
	}
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cmdutil.FlagError{Err: err}
	})
	// --version prints the one line of the build; `lxkit version` also
	// asks the host.
	root.Version = version.Read().String()
	root.SetVersionTemplate("lxkit {{.Version}}\n")
	root.SuggestionsMinimumDistance = 2

	pf := root.PersistentFlags()
	pf.StringVar(&g.Host, "host", "", "the host: a remote's name, a socket path, unix://, https://HOST[:PORT] or ssh://USER@HOST[:PORT] (default: the default remote, else the local daemon)")
	pf.StringVar(&g.Driver, "driver", "", "how to reach the host: rest (its API; the default) or cli (its lxc or incus command; the default for ssh://)")
	pf.BoolVar(&g.Insecure, "insecure", false, "do not verify an HTTPS host's certificate (says so on stderr)")
	pf.StringVar(&g.Format, "format", cmdutil.FormatTable, "output format: table, compact (the same: tables have no borders), csv, json or yaml")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "no progress or informational lines")
	pf.BoolVar(&g.Debug, "debug", false, "log requests to the daemon on stderr")
	pf.DurationVar(&g.RequestTimeout, "request-timeout", client.DefaultResponseTimeout, "how long an API host may keep lxkit waiting: for an answer to start, for a whole answer, for a transfer to move on")
	pf.StringVar(&g.Project, "project", "", "the project to work in on the host (default: the remote's, else the daemon's default); containers inside containers use their daemon's default")

	root.AddGroup(
		&cobra.Group{ID: "instances", Title: "Containers:"},
		&cobra.Group{ID: "inside", Title: "Commands and files:"},
		&cobra.Group{ID: "declare", Title: "Declarative instances and fleets:"},
		&cobra.Group{ID: "jobs", Title: "Build hosts:"},
		&cobra.Group{ID: "manage", Title: "Host management:"},
		&cobra.Group{ID: "hosts", Title: "Remote hosts and trust:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("instances",
		instance.NewCmdLaunch(f, nil),
		instance.NewCmdUpdate(f, nil),
		instance.NewCmdStart(f, nil),
		instance.NewCmdStop(f, nil),
		instance.NewCmdRestart(f, nil),
		instance.NewCmdPause(f, nil),
		instance.NewCmdResume(f, nil),
		instance.NewCmdRename(f, nil),
		instance.NewCmdDelete(f, nil),
		instance.NewCmdStatus(f, nil),
		instance.NewCmdShow(f, nil),
		instance.NewCmdEdit(f, nil),
		instance.NewCmdState(f, nil),
		instance.NewCmdInfo(f, nil),
		instance.NewCmdConsole(f, nil),
		instance.NewCmdList(f, nil),
		instance.NewCmdWait(f, nil),
		instance.NewCmdMove(f, nil),
		instance.NewCmdCopy(f, nil),
	)
	add("inside",
		execcmd.NewCmdExec(f, nil),
		files.NewCmdCat(f, nil),
		files.NewCmdWrite(f, nil),
		files.NewCmdPush(f, nil),
		files.NewCmdPull(f, nil),
	)
	add("manage",
		profile.NewCmdProfile(f),
		project.NewCmdProject(f),
		storage.NewCmdStorage(f),
		network.NewCmdNetwork(f),
		snapshot.NewCmdSnapshot(f),
		config.NewCmdConfig(f),
		operation.NewCmdOperation(f),
		cluster.NewCmdCluster(f),
		monitor.NewCmdMonitor(f, nil),
		image.NewCmdImage(f),
	)
	add("declare", declare.Cmds(f)...)
	add("jobs", job.NewCmdJob(f))
	add("hosts",
		remote.NewCmdRemote(f),
		trust.NewCmdTrust(f),
		trust.NewCmdCert(f),
		trust.NewCmdListen(f, nil),
	)
	root.AddCommand(version.NewCmdVersion(f, nil))
	if completion {
		addCompletion(f, root)
	}
	return root
}
