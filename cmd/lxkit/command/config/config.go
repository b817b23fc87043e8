// Package config is `lxkit config`: the server's configuration.
package config

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/spf13/cobra"
)

// NewCmdConfig returns `lxkit config` and its subcommands.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	return objects.Group("config <command>", "Show or change the server's configuration",
		`Show or change the server's configuration (core.*, images.*, ...). A key may
start with the container path of a nested host: "config get outer/core.https_address";
"config show outer/" shows that host's.`,
		NewCmdShow(f, nil), NewCmdGet(f, nil), NewCmdSet(f, nil), NewCmdUnset(f, nil))
}

// NewCmdShow returns `lxkit config show`. runF, when not nil, runs instead
// (for tests).
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *objects.HostOptions) error) *cobra.Command {
	return objects.NewCmdOnHost(f, &cobra.Command{
		Use:   "show [HOST/]",
		Short: "Print the server's configuration (YAML, or --format json)",
	}, runF, showRun)
}

func showRun(ctx context.Context, o *objects.HostOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	cfg, err := h.Config(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, cfg, func(w io.Writer) error { return cmdutil.WriteYAML(w, cfg) })
}

// GetOptions are the inputs of `lxkit config get`.
type GetOptions struct {
	objects.Scope
	Key string
}

// NewCmdGet returns `lxkit config get`. runF, when not nil, runs instead
// (for tests).
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	opts := &GetOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "get [HOST/]KEY",
		Short: "Print the value of a key (an empty line when it is not set)",
		Args:  cmdutil.ExactArgs(1, "one key"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			opts.Key, err = opts.SetHost(args[0], true)
			return err
		}, runF, getRun),
	}
}

func getRun(ctx context.Context, o *GetOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	cfg, err := h.Config(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}{o.Key, cfg[o.Key]}
	return cmdutil.Print(o.IO, o.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, out.Value)
		return err
	})
}

// SetOptions are the inputs of `lxkit config set` and `lxkit config
// unset`.
type SetOptions struct {
	objects.Scope
	// Config is the change: an empty value removes a key (all of unset's
	// are empty).
	Config map[string]string
}

// NewCmdSet returns `lxkit config set`. runF, when not nil, runs instead
// (for tests).
func NewCmdSet(f *cmdutil.Factory, runF func(context.Context, *SetOptions) error) *cobra.Command {
	opts := &SetOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "set [HOST/]KEY=VALUE...",
		Short: "Set keys of the server's configuration (KEY= removes one)",
		Args:  cmdutil.MinimumArgs(1, "KEY=VALUE pairs"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) error {
			// The host path is on the key: outer/core.x=VALUE.
			pairs := make([]string, len(args))
			for i, a := range args {
				k, v, hasValue := strings.Cut(a, "=")
				k, err := opts.SetHost(k, i == 0)
				if err != nil {
					return err
				}
				if pairs[i] = k; hasValue {
					pairs[i] += "=" + v
				}
			}
			var err error
			if opts.Config, err = cmdutil.ParseConfig(pairs, true); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			return nil
		}, runF, setRun),
	}
}

// NewCmdUnset returns `lxkit config unset`. runF, when not nil, runs
// instead (for tests).
func NewCmdUnset(f *cmdutil.Factory, runF func(context.Context, *SetOptions) error) *cobra.Command {
	opts := &SetOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "unset [HOST/]KEY...",
		Short: "Remove keys from the server's configuration",
		Args:  cmdutil.MinimumArgs(1, "at least one key"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) error {
			keys, err := opts.SetNames(args)
			if err != nil {
				return err
			}
			opts.Config, err = objects.ParseKeys(keys)
			return err
		}, runF, setRun),
	}
}

// setRun runs set and unset.
func setRun(ctx context.Context, o *SetOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.SetConfig(ctx, o.Config); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Updated the configuration of %s", h.Addr())
	return nil
}
