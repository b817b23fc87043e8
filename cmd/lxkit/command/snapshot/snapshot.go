// Package snapshot is `lxkit snapshot`: containers' snapshots.
package snapshot

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var snapshots = &objects.Kind[api.InstanceSnapshot, api.InstanceSnapshotsPost]{
	Noun: "snapshot", Arg: "SNAPSHOT", Parent: "CONTAINER", ParentNoun: "container",
	ValidParent: driver.ValidateName,
	Open: func(h *host.Host, instance string) objects.Collection[api.InstanceSnapshot, api.InstanceSnapshotsPost] {
		return h.Snapshots(instance)
	},
	Name:   func(s *api.InstanceSnapshot) *string { return &s.Name },
	Header: "TAKEN AT\tEXPIRES AT\tSTATEFUL",
	Row: func(s *api.InstanceSnapshot) string {
		return cmdutil.FormatTime(s.CreatedAt) + "\t" + cmdutil.FormatTime(s.ExpiresAt) + "\t" + strconv.FormatBool(s.Stateful)
	},
	GetParent: func(ctx context.Context, s *objects.Scope, instance string) error {
		d, err := s.HostDriver(ctx)
		if err == nil {
			_, err = d.Instance(ctx, instance)
		}
		return err
	},
}

// NewCmdSnapshot returns `lxkit snapshot` and its subcommands.
func NewCmdSnapshot(f *cmdutil.Factory) *cobra.Command {
	// After list and show: create and restore.
	cmds := slices.Insert(snapshots.Commands(f), 2, NewCmdCreate(f, nil), NewCmdRestore(f, nil))
	cmd := objects.Group("snapshot <command>", "Take, list, restore and delete containers' snapshots",
		`Take, list, restore, rename and delete the snapshots of a container. The
container is named as elsewhere: outer/inner is a container of the LXD inside
outer.`, cmds...)
	cmd.Example = `  lxkit snapshot create web            # prints snap0
  lxkit snapshot restore web snap0
  lxkit snapshot create outer/inner before-upgrade`
	return cmd
}

// CreateOptions are the inputs of `lxkit snapshot create`.
type CreateOptions struct {
	objects.Scope
	Container string
	Name      string // empty is the next snapN
}

// NewCmdCreate returns `lxkit snapshot create`. runF, when not nil, runs
// instead (for tests).
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "create [HOST/]CONTAINER [SNAPSHOT]",
		Short: "Snapshot a container; prints the snapshot's name",
		Long: `Snapshot a container and print the snapshot's name. Without SNAPSHOT the name
is snapN, as lxc names them: N is one more than the highest of the container's
snapN snapshots, 0 for the first. A snapshot of that name that exists already
is left as it is.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cmdutil.FlagErrorf("%s: expected a container and at most one snapshot name", cmd.CommandPath())
			}
			return nil
		},
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) error {
			names, _, err := snapshots.SetObjects(&opts.Scope, &opts.Container, args, len(args)-1)
			if err != nil || len(names) == 0 {
				return err
			}
			opts.Name = names[0]
			return host.ValidateNewName("snapshot", opts.Name)
		}, runF, createRun),
	}
}

func createRun(ctx context.Context, o *CreateOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	snaps := h.Snapshots(o.Container)
	name := o.Name
	if name == "" {
		list, err := snaps.List(ctx)
		if err != nil {
			return snapshots.Explain(ctx, &o.Scope, o.Container, err)
		}
		name = nextSnapshotName(list)
	}
	if made, err := snaps.Make(ctx, api.InstanceSnapshotsPost{Name: name}); err != nil {
		return snapshots.Explain(ctx, &o.Scope, o.Container, err)
	} else if !made {
		cmdutil.Success(o.IO, o.Globals, "The %s exists already: left as it is", snapshots.Describe(&o.Scope, o.Container, name))
	}
	out := struct {
		Instance string `json:"instance"`
		Name     string `json:"name"`
	}{o.Path(o.Container), name}
	return cmdutil.Print(o.IO, o.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, name)
		return err
	})
}

// nextSnapshotName is snapN, N one more than the highest snapN in list.
func nextSnapshotName(list []api.InstanceSnapshot) string {
	next := 0
	for _, s := range list {
		digits, ok := strings.CutPrefix(s.Name, "snap")
		if n, err := strconv.Atoi(digits); ok && err == nil && n >= next && digits == strconv.Itoa(n) {
			next = n + 1
		}
	}
	return "snap" + strconv.Itoa(next)
}

// RestoreOptions are the inputs of `lxkit snapshot restore`.
type RestoreOptions struct {
	objects.Scope
	Container, Snapshot string
}

// NewCmdRestore returns `lxkit snapshot restore`. runF, when not nil, runs
// instead (for tests).
func NewCmdRestore(f *cmdutil.Factory, runF func(context.Context, *RestoreOptions) error) *cobra.Command {
	opts := &RestoreOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "restore [HOST/]CONTAINER SNAPSHOT",
		Short: "Bring a container back to one of its snapshots",
		Args:  cmdutil.ExactArgs(2, "a container and one of its snapshots"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) error {
			names, _, err := snapshots.SetObjects(&opts.Scope, &opts.Container, args, 1)
			if err == nil {
				opts.Snapshot = names[0]
			}
			return err
		}, runF, restoreRun),
	}
}

func restoreRun(ctx context.Context, o *RestoreOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.RestoreSnapshot(ctx, o.Container, o.Snapshot, false); err != nil {
		return snapshots.Explain(ctx, &o.Scope, o.Container, err)
	}
	cmdutil.Success(o.IO, o.Globals, "Restored %s to snapshot %s", o.Path(o.Container), o.Snapshot)
	return nil
}
