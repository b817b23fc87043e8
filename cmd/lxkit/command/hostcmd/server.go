package hostcmd

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdConfig returns `lxkit config`: the server's configuration. runF,
// when not nil, runs instead of each subcommand (for tests).
func NewCmdConfig(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	show := newOptions(f, "show")
	get := newOptions(f, "get")
	set := newOptions(f, "set")
	unset := newOptions(f, "unset")
	return group("config <command>", "Show or change the server's configuration",
		`Show or change the server's configuration (core.*, images.*, ...). A key may
start with the container path of a nested host: "config get outer/core.https_address";
"config show outer/" shows that host's.`,
		&cobra.Command{
			Use:   "show [HOST/]",
			Short: "Print the server's configuration (YAML, or --format json)",
			Args:  cmdutil.MaximumArgs(1, "at most a nested host, HOST/"),
			RunE: runE(show, func(_ *cobra.Command, args []string) error {
				return show.setHostArg(args)
			}, runF, configShowRun),
		},
		&cobra.Command{
			Use:   "get [HOST/]KEY",
			Short: "Print the value of a key (an empty line when it is not set)",
			Args:  cmdutil.ExactArgs(1, "one key"),
			RunE: runE(get, func(_ *cobra.Command, args []string) error {
				return get.setNames(args)
			}, runF, configGetRun),
		},
		&cobra.Command{
			Use:   "set [HOST/]KEY=VALUE...",
			Short: "Set keys of the server's configuration (KEY= removes one)",
			Args:  cmdutil.MinimumArgs(1, "KEY=VALUE pairs"),
			RunE: runE(set, func(_ *cobra.Command, args []string) error {
				// The host path is on the key: outer/core.x=VALUE.
				pairs := make([]string, len(args))
				for i, a := range args {
					k, v, hasValue := strings.Cut(a, "=")
					k, err := set.setHost(k, i == 0)
					if err != nil {
						return err
					}
					if pairs[i] = k; hasValue {
						pairs[i] += "=" + v
					}
				}
				var err error
				if set.Config, err = cmdutil.ParseConfig(pairs, true); err != nil {
					return &cmdutil.FlagError{Err: err}
				}
				return nil
			}, runF, configSetRun),
		},
		&cobra.Command{
			Use:   "unset [HOST/]KEY...",
			Short: "Remove keys from the server's configuration",
			Args:  cmdutil.MinimumArgs(1, "at least one key"),
			RunE: runE(unset, func(_ *cobra.Command, args []string) error {
				if err := unset.setNames(args); err != nil {
					return err
				}
				var err error
				unset.Config, err = parseKeys(unset.Names)
				return err
			}, runF, configSetRun),
		},
	)
}

func configShowRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	cfg, err := h.Config(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, cfg, func(w io.Writer) error { return cmdutil.WriteYAML(w, cfg) })
}

func configGetRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
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
	}{o.Names[0], cfg[o.Names[0]]}
	return cmdutil.Print(o.IO, o.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, out.Value)
		return err
	})
}

// configSetRun runs set and unset: unset's keys have empty values.
func configSetRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	if err := h.SetConfig(ctx, o.Config); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Updated the configuration of %s", h.Addr())
	return nil
}

// NewCmdOperation returns `lxkit operation`: the daemon's background
// tasks. runF, when not nil, runs instead of each subcommand (for tests).
func NewCmdOperation(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	list := newOptions(f, "list")
	show := newOptions(f, "show")
	cancel := newOptions(f, "cancel")
	return group("operation <command>", "List, show and cancel the daemon's background operations",
		`List, show and cancel the daemon's background operations: running ones and
those that ended in the last few seconds. An ID may start with the container
path of a nested host; "operation list outer/" lists that host's.`,
		&cobra.Command{
			Use:   "list [HOST/]",
			Short: "List operations, oldest first",
			Args:  cmdutil.MaximumArgs(1, "at most a nested host, HOST/"),
			RunE: runE(list, func(_ *cobra.Command, args []string) error {
				return list.setHostArg(args)
			}, runF, operationListRun),
		},
		&cobra.Command{
			Use:   "show [HOST/]ID",
			Short: "Print an operation (YAML, or --format json)",
			Args:  cmdutil.ExactArgs(1, "one operation ID"),
			RunE: runE(show, func(_ *cobra.Command, args []string) error {
				return show.setNames(args)
			}, runF, operationShowRun),
		},
		&cobra.Command{
			Use:   "cancel [HOST/]ID",
			Short: "Cancel an operation (one that has ended is not an error)",
			Args:  cmdutil.ExactArgs(1, "one operation ID"),
			RunE: runE(cancel, func(_ *cobra.Command, args []string) error {
				return cancel.setNames(args)
			}, runF, operationCancelRun),
		},
	)
}

func operationListRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", op.ID, op.Class, op.Description, op.Status, formatTime(op.CreatedAt), op.MayCancel)
		}
		return tw.Flush()
	})
}

func operationShowRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	op, err := h.Operation(ctx, o.Names[0])
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, op, func(w io.Writer) error { return cmdutil.WriteYAML(w, op) })
}

func operationCancelRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	if err := h.CancelOperation(ctx, o.Names[0]); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Cancelled operation %s", o.Names[0])
	return nil
}

// NewCmdCluster returns `lxkit cluster`. runF, when not nil, runs instead
// of each subcommand (for tests).
func NewCmdCluster(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	list := newOptions(f, "list")
	return group("cluster <command>", "List the members of the host's cluster",
		`List the members of the host's cluster. A host that is not clustered is
listed alone, with status Standalone.`,
		&cobra.Command{
			Use:   "list [HOST/]",
			Short: "List the cluster's members",
			Args:  cmdutil.MaximumArgs(1, "at most a nested host, HOST/"),
			RunE: runE(list, func(_ *cobra.Command, args []string) error {
				return list.setHostArg(args)
			}, runF, clusterListRun),
		},
	)
}

func clusterListRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	members, err := h.ClusterMembers(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, members, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "NAME\tURL\tROLES\tARCHITECTURE\tSTATUS\tMESSAGE")
		for _, m := range members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ServerName, m.URL, strings.Join(m.Roles, ","), m.Architecture, m.Status, m.Message)
		}
		return tw.Flush()
	})
}
