package hostcmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var snapshots = &kind[api.InstanceSnapshot, api.InstanceSnapshotsPost]{
	noun: "snapshot", arg: "SNAPSHOT", parent: "CONTAINER", parentNoun: "container",
	validParent: driver.ValidateName,
	coll: func(h *host.Host, instance string) collection[api.InstanceSnapshot, api.InstanceSnapshotsPost] {
		return h.Snapshots(instance)
	},
	name:   func(s *api.InstanceSnapshot) *string { return &s.Name },
	header: "TAKEN AT\tEXPIRES AT\tSTATEFUL",
	row: func(s *api.InstanceSnapshot) string {
		return formatTime(s.CreatedAt) + "\t" + formatTime(s.ExpiresAt) + "\t" + strconv.FormatBool(s.Stateful)
	},
	getParent: func(ctx context.Context, o *Options) error {
		d, err := o.hostDriver(ctx)
		if err == nil {
			_, err = d.Instance(ctx, o.Parent)
		}
		return err
	},
}

// formatTime prints a time for the tables; the zero time is "".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// NewCmdSnapshot returns `lxkit snapshot` and its subcommands. runF, when
// not nil, runs instead of each subcommand (for tests).
func NewCmdSnapshot(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	// After list and show: create and restore.
	cmds := slices.Insert(snapshots.commands(f, runF), 2, newCmdSnapshotCreate(f, runF), newCmdRestore(f, runF))
	cmd := group("snapshot <command>", "Take, list, restore and delete containers' snapshots",
		`Take, list, restore, rename and delete the snapshots of a container. The
container is named as elsewhere: outer/inner is a container of the LXD inside
outer.`, cmds...)
	cmd.Example = `  lxkit snapshot create web            # prints snap0
  lxkit snapshot restore web snap0
  lxkit snapshot create outer/inner before-upgrade`
	return cmd
}

func newCmdSnapshotCreate(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "create")
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
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			if _, err := snapshots.setObjects(opts, args, len(args)-1); err != nil || len(opts.Names) == 0 {
				return err
			}
			return host.ValidateNewName("snapshot", opts.Names[0])
		}, runF, snapshotCreateRun),
	}
}

func snapshotCreateRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	snaps := h.Snapshots(o.Parent)
	var name string
	if len(o.Names) == 1 {
		name = o.Names[0]
	} else {
		list, err := snaps.List(ctx)
		if err != nil {
			return snapshots.explain(ctx, o, err)
		}
		name = nextSnapshotName(list)
	}
	if made, err := snaps.Make(ctx, api.InstanceSnapshotsPost{Name: name}); err != nil {
		return snapshots.explain(ctx, o, err)
	} else if !made {
		cmdutil.Success(o.IO, o.Globals, "The %s exists already: left as it is", snapshots.describe(o, name))
	}
	out := struct {
		Instance string `json:"instance"`
		Name     string `json:"name"`
	}{o.path(o.Parent), name}
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

func newCmdRestore(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "restore")
	return &cobra.Command{
		Use:   "restore [HOST/]CONTAINER SNAPSHOT",
		Short: "Bring a container back to one of its snapshots",
		Args:  cmdutil.ExactArgs(2, "a container and one of its snapshots"),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			_, err := snapshots.setObjects(opts, args, 1)
			return err
		}, runF, func(ctx context.Context, o *Options) error {
			h, err := o.host(ctx)
			if err != nil {
				return err
			}
			if err := h.RestoreSnapshot(ctx, o.Parent, o.Names[0], false); err != nil {
				return snapshots.explain(ctx, o, err)
			}
			cmdutil.Success(o.IO, o.Globals, "Restored %s to snapshot %s", o.path(o.Parent), o.Names[0])
			return nil
		}),
	}
}
