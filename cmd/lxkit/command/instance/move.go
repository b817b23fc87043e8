package instance

import (
	"context"
	"fmt"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// MoveOptions are the inputs of `lxkit move` and `lxkit copy`.
type MoveOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name    string
	NewName string // copy only
	Target  string // a cluster member (move: required)
	Stop    bool   // move: stop a running instance, move it, start it
	// Snapshot copies that snapshot of the source (copy only).
	Snapshot     string
	InstanceOnly bool
}

// NewCmdMove returns `lxkit move`.
func NewCmdMove(f *cmdutil.Factory, runF func(context.Context, *MoveOptions) error) *cobra.Command {
	opts := &MoveOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "move NAME --target MEMBER [--stop]",
		Short: "Move a container to another member of its cluster",
		Long: `Move a stopped container, with its root volume and snapshots, to another
member of its cluster. A running one is refused unless --stop, which stops
it, moves it and starts it again. A container on MEMBER already is left as
it is.`,
		Example: `  lxkit --host lxd-cluster move web --target m2
  lxkit --host lxd-cluster move db --target m3 --stop`,
		Args: cmdutil.ExactArgs(1, "one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Target == "" {
				return cmdutil.FlagErrorf("move: --target MEMBER is required")
			}
			return runMove(cmd.Context(), opts, runF, moveRun)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "the cluster member to move it to")
	cmd.Flags().BoolVar(&opts.Stop, "stop", false, "stop a running container, move it and start it again")
	return cmd
}

// NewCmdCopy returns `lxkit copy`.
func NewCmdCopy(f *cmdutil.Factory, runF func(context.Context, *MoveOptions) error) *cobra.Command {
	opts := &MoveOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "copy NAME NEW [--target MEMBER] [--snapshot S] [--instance-only]",
		Short: "Copy a container (stopped, or at a snapshot) to a new, stopped one",
		Long: `Copy a container to a new one, stopped, on the same host: its current state,
or with --snapshot the state of one of its snapshots. On a cluster,
--target puts the copy on another member. A NEW that exists is left as it
is.`,
		Example: `  lxkit copy web web2
  lxkit --host lxd-cluster copy web web-m3 --target m3`,
		Args: cmdutil.ExactArgs(2, "a container name and the copy's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.NewName = args[0], args[1]
			return runMove(cmd.Context(), opts, runF, copyRun)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "on a cluster, the member (or @GROUP) to put the copy on")
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "copy this snapshot of NAME")
	cmd.Flags().BoolVar(&opts.InstanceOnly, "instance-only", false, "leave NAME's snapshots behind")
	return cmd
}

// NewCmdRename returns `lxkit rename`.
func NewCmdRename(f *cmdutil.Factory, runF func(context.Context, *MoveOptions) error) *cobra.Command {
	opts := &MoveOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	return &cobra.Command{
		Use:   "rename NAME NEW",
		Short: "Rename a stopped container (one renamed already is left as it is)",
		Long: `Rename a stopped container, with its snapshots, on its host. A container
renamed already (NAME gone, NEW there) is success; a NEW that another
container has is refused.`,
		Example: `  lxkit rename web web-old
  lxkit rename outer/web outer/web-old`,
		Args: cmdutil.ExactArgs(2, "a container name and its new name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.NewName = args[0], args[1]
			return runMove(cmd.Context(), opts, runF, renameRun)
		},
	}
}

func renameRun(ctx context.Context, opts *MoveOptions) error {
	dst, err := sameHost(opts, "rename", "a container keeps its host")
	if err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	h, name, err := hostOf(ctx, d, opts.Name)
	if err != nil {
		return err
	}
	return h.RenameInstance(ctx, name, dst)
}

// sameHost returns NewName's name on its host, which must be Name's.
func sameHost(opts *MoveOptions, verb, why string) (string, error) {
	dst := opts.NewName
	if i := strings.LastIndexByte(dst, '/'); i >= 0 {
		if dst[:i+1] != opts.Name[:strings.LastIndexByte(opts.Name, '/')+1] {
			return "", cmdutil.FlagErrorf("%s: %s and %s are on different hosts: %s", verb, opts.Name, opts.NewName, why)
		}
		dst = dst[i+1:]
	}
	return dst, nil
}

func runMove(ctx context.Context, opts *MoveOptions, runF, run func(context.Context, *MoveOptions) error) error {
	if runF != nil {
		return runF(ctx, opts)
	}
	names := []string{opts.Name}
	if opts.NewName != "" {
		names = append(names, opts.NewName)
	}
	if err := cmdutil.ValidateNames(names...); err != nil {
		return err
	}
	return run(ctx, opts)
}

// hostOf returns the host below d that holds a container named by path
// ("web", or "outer/web" inside outer), and its name there.
func hostOf(ctx context.Context, d driver.Driver, path string) (*host.Host, string, error) {
	var err error
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		if d, err = driver.HostAt(ctx, d, path[:i]); err != nil {
			return nil, "", err
		}
		path = path[i+1:]
	}
	return host.New(d.API()), path, nil
}

func moveRun(ctx context.Context, opts *MoveOptions) error {
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	h, name, err := hostOf(ctx, d, opts.Name)
	if err != nil {
		return err
	}
	if err := h.MoveInstance(ctx, name, host.MoveOptions{Target: opts.Target, Stop: opts.Stop}); err != nil {
		return err
	}
	if !opts.Globals.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "%s is on %s\n", opts.Name, opts.Target)
	}
	return nil
}

func copyRun(ctx context.Context, opts *MoveOptions) error {
	dst, err := sameHost(opts, "copy", "a copy stays on its host")
	if err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	h, name, err := hostOf(ctx, d, opts.Name)
	if err != nil {
		return err
	}
	return h.CopyInstance(ctx, name, dst, host.CopyInstanceOptions{
		Snapshot: opts.Snapshot, InstanceOnly: opts.InstanceOnly, Target: opts.Target,
	})
}
