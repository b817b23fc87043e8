// Package hostcmd is lxkit's host management: `lxkit profile`, `project`,
// `storage`, `network`, `snapshot`, `config`, `operation` and `cluster`,
// over package host.
//
// A name may start with the container path of a nested host: "outer/web"
// is the profile web of the LXD inside container outer, and a list takes
// "outer/" for that host's objects. Plain names are --host's.
package hostcmd

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

// Options are the inputs of the host commands. Action is the subcommand
// ("list", "set", "device add", ...); which other fields it fills depends
// on it.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Action string
	// Host is the container path of the nested host the command acts on
	// ("outer", "outer/middle"); empty is --host's own.
	Host string
	// Parent is what the objects belong to: the storage pool of volumes,
	// the instance of snapshots.
	Parent string
	// Names are the objects acted on, without Host; a config command's
	// keys, an operation's ID.
	Names []string
	// Prefix keeps, in a list, the objects whose names start with it.
	Prefix  string
	NewName string // rename
	// Config is set by create, set and unset; in set and unset an empty
	// value removes the key.
	Config      map[string]string
	Description *string // create and set; nil leaves it as it is
	// Devices are a profile's, by name; a nil device is removed.
	Devices map[string]map[string]string
	// Type is the storage pool's driver, the network's type.
	Type string
}

func newOptions(f *cmdutil.Factory, action string) *Options {
	return &Options{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, Action: action}
}

// host returns the host the command acts on: --host's, or the one inside
// the container at o.Host.
func (o *Options) host(ctx context.Context) (*host.Host, error) {
	d, err := o.hostDriver(ctx)
	if err != nil {
		return nil, err
	}
	return host.New(d.API()), nil
}

// hostDriver returns the driver of the host the command acts on.
func (o *Options) hostDriver(ctx context.Context) (driver.Driver, error) {
	d, err := o.Driver(ctx)
	if err != nil {
		return nil, err
	}
	return driver.HostAt(ctx, d, o.Host)
}

// path names an object of o's host in messages: "outer/web" or "web".
func (o *Options) path(name string) string {
	if o.Host == "" {
		return name
	}
	return o.Host + "/" + name
}

// setHost splits "[PATH/]NAME" at its last slash, sets o.Host to PATH and
// returns NAME. Every argument of a command must name the same host.
func (o *Options) setHost(arg string, first bool) (string, error) {
	path, name := "", arg
	if i := strings.LastIndexByte(arg, '/'); i >= 0 {
		path, name = arg[:i], arg[i+1:]
		if err := cmdutil.ValidateNames(path); err != nil {
			return "", fmt.Errorf("container path %q: %w", path, err)
		}
	}
	if !first && path != o.Host {
		return "", cmdutil.FlagErrorf("%q is not on host %q: give the objects of one host per command", arg, o.Host)
	}
	o.Host = path
	return name, nil
}

// setNames reads arguments "[PATH/]NAME" into o.Host and o.Names.
func (o *Options) setNames(args []string) error {
	o.Names = nil
	for i, a := range args {
		n, err := o.setHost(a, i == 0)
		if err != nil {
			return err
		}
		o.Names = append(o.Names, n)
	}
	return nil
}

// setHostArg reads an optional "PATH/" argument naming a nested host.
func (o *Options) setHostArg(args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !strings.HasSuffix(args[0], "/") {
		return cmdutil.FlagErrorf("%q: expected the container path of a nested host and a slash, like outer/", args[0])
	}
	_, err := o.setHost(args[0], true)
	return err
}

// setNewName reads rename's NEW: a plain name, or one on the same host.
func (o *Options) setNewName(arg string) error {
	i := strings.LastIndexByte(arg, '/')
	if i >= 0 && arg[:i] != o.Host {
		return cmdutil.FlagErrorf("%q: rename cannot move an object to another host", arg)
	}
	o.NewName = arg[i+1:]
	return nil
}

// runFunc runs a command with its options.
type runFunc = func(context.Context, *Options) error

// runE is a RunE that reads the arguments with parse, then runs runF (a
// test's) or run.
func runE(opts *Options, parse func(cmd *cobra.Command, args []string) error, runF, run runFunc) func(*cobra.Command, []string) error {
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

// group returns a command that only holds subcommands.
func group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
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

// parseKeys reads unset's keys into a change that removes them.
func parseKeys(keys []string) (map[string]string, error) {
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
