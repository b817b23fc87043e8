// Package objects holds what the host-object commands share (`lxkit
// profile`, `project`, `storage`, `network`, `snapshot`, and the `config`,
// `operation` and `cluster` commands, and `lxkit edit`): the host a
// command acts on, and the generic list, show, create, set, unset, edit,
// rename and delete verbs of a Kind, each with its own Options and test
// hook.
//
// A name may start with the container path of a nested host: "outer/web"
// is the profile web of the LXD inside container outer, and a list takes
// "outer/" for that host's objects. Plain names are --host's.
package objects

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// Scope is where a command acts: --host's host, or the host nested in a
// container of it. Every Options here embeds one.
type Scope struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	// Host is the container path of the nested host the command acts on
	// ("outer", "outer/middle"); empty is --host's own.
	Host string
}

// NewScope returns the scope of --host, as f resolves it.
func NewScope(f *cmdutil.Factory) Scope {
	return Scope{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
}

// HostAPI returns the host the command acts on.
func (s *Scope) HostAPI(ctx context.Context) (*host.Host, error) {
	d, err := s.HostDriver(ctx)
	if err != nil {
		return nil, err
	}
	return host.New(d.API()), nil
}

// HostDriver returns the driver of the host the command acts on.
func (s *Scope) HostDriver(ctx context.Context) (driver.Driver, error) {
	d, err := s.Driver(ctx)
	if err != nil {
		return nil, err
	}
	return driver.HostAt(ctx, d, s.Host)
}

// Path names an object of the scope's host in messages: "outer/web" or
// "web".
func (s *Scope) Path(name string) string {
	if s.Host == "" {
		return name
	}
	return s.Host + "/" + name
}

// SetHost splits "[PATH/]NAME" at its last slash, sets s.Host to PATH and
// returns NAME. Every argument of a command must name the same host: the
// first sets it, the others must agree.
func (s *Scope) SetHost(arg string, first bool) (string, error) {
	path, name := "", arg
	if i := strings.LastIndexByte(arg, '/'); i >= 0 {
		path, name = arg[:i], arg[i+1:]
		if err := cmdutil.ValidateNames(path); err != nil {
			return "", fmt.Errorf("container path %q: %w", path, err)
		}
	}
	if !first && path != s.Host {
		return "", cmdutil.FlagErrorf("%q is not on host %q: give the objects of one host per command", arg, s.Host)
	}
	s.Host = path
	return name, nil
}

// SetNames reads arguments "[PATH/]NAME" into s.Host and returns the
// names.
func (s *Scope) SetNames(args []string) ([]string, error) {
	var names []string
	for i, a := range args {
		n, err := s.SetHost(a, i == 0)
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

// SetHostArg reads an optional "PATH/" argument naming a nested host.
func (s *Scope) SetHostArg(args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !strings.HasSuffix(args[0], "/") {
		return cmdutil.FlagErrorf("%q: expected the container path of a nested host and a slash, like outer/", args[0])
	}
	_, err := s.SetHost(args[0], true)
	return err
}

// RunE is a cobra RunE that reads the arguments with parse, then runs
// runF (a test's) or run with opts.
func RunE[O any](opts *O, parse func(cmd *cobra.Command, args []string) error, runF, run func(context.Context, *O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := parse(cmd, args); err != nil {
			return err
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
}

// Group returns a command that only holds subcommands.
func Group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name()
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cmdutil.ExactArgs(0, "a subcommand: "+strings.Join(names, ", ")),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subs...)
	return cmd
}

// ParseKeys reads unset's keys into a change that removes them.
func ParseKeys(keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			return nil, cmdutil.FlagErrorf("%q: expected a key", k)
		}
		out[k] = ""
	}
	return out, nil
}

// joinErrors returns nil, the one error, or all of them on one line.
func joinErrors(errs []error) error {
	var msgs []string
	var last error
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
			last = err
		}
	}
	if len(msgs) <= 1 {
		return last
	}
	return errors.New(strings.Join(msgs, "; "))
}

// HostOptions are the inputs of a command whose one argument is an
// optional nested host, "HOST/": `config show`, `operation list`,
// `cluster list`.
type HostOptions struct{ Scope }

// NewCmdOnHost completes cmd (its Use and Short set) as a command on one
// host. runF, when not nil, runs instead of run (for tests).
func NewCmdOnHost(f *cmdutil.Factory, cmd *cobra.Command, runF, run func(context.Context, *HostOptions) error) *cobra.Command {
	opts := &HostOptions{NewScope(f)}
	cmd.Args = cmdutil.MaximumArgs(1, "at most a nested host, HOST/")
	cmd.RunE = RunE(opts, func(_ *cobra.Command, args []string) error {
		return opts.SetHostArg(args)
	}, runF, run)
	return cmd
}
