package instance

import (
	"context"
	"fmt"
	"strings"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/spec"
	"github.com/spf13/cobra"
)

// MoveOptions are the inputs of `lxkit move`, `lxkit copy` and `lxkit
// rename`.
type MoveOptions struct {
	IO        *iostreams.IOStreams
	Globals   *cmdutil.Globals
	Driver    func(context.Context) (driver.Driver, error)
	ClientFor func(context.Context, string) (*client.Client, error)

	Name    string
	NewName string // copy and rename; move: optional
	Target  string // a cluster member
	Stop    bool   // move on a cluster: stop a running instance, move it, start it
	// To is another host (a remote, socket or https:// URL) and Project
	// another project (--target-project) to copy or move to.
	To, Project string
	// Stateless copies or moves a running container's disk as it is.
	Stateless bool
	// Snapshot copies that snapshot of the source (copy only).
	Snapshot     string
	InstanceOnly bool
	// File is rename -f: the configuration whose volumes go with the
	// instance; Props its -p properties.
	File  string
	Props []string
}

// NewCmdMove returns `lxkit move`.
func NewCmdMove(f *cmdutil.Factory, runF func(context.Context, *MoveOptions) error) *cobra.Command {
	opts := &MoveOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, ClientFor: f.ClientFor}
	cmd := &cobra.Command{
		Use:   "move NAME [NEW] --target MEMBER|--to HOST|--target-project P",
		Short: "Move a container to another cluster member, host or project",
		Long: `Move a container, with its root volume and snapshots:

  --target MEMBER      to another member of its cluster; a running one is
                       refused unless --stop, which stops it, moves it and
                       starts it again. One on MEMBER already is left so.
  --to HOST            to another host (a remote, a socket or https://...),
                       which pulls it over HTTPS: this host must listen on
                       HTTPS (lxkit listen), as lxc move remote: needs.
  --target-project P   to project P of its host (--project names the
                       project it is in, as with lxc).

With --to or --target-project, NEW renames it on the way, a running
container is refused unless --stateless (its disk as it is, not its memory),
and the source is deleted once the copy is made. A move done already (the
source gone, the destination there) is success; a destination beside its
source is refused. Without any of them, move NAME NEW renames, as lxc move
does.`,
		Example: `  lxkit --host lxd-cluster move web --target m2
  lxkit --host lxd-cluster move db --target m3 --stop
  lxkit move web --to lab
  lxkit move web web-staging --target-project staging
  lxkit move web web-old`,
		Args: cmdutil.RangeArgs(1, 2, "a container name, and optionally its new name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if len(args) == 2 {
				opts.NewName = args[1]
			}
			elsewhere := opts.To != "" || opts.Project != ""
			switch {
			case opts.Target != "" && elsewhere:
				return cmdutil.FlagErrorf("move: --target moves within a cluster; --to and --target-project do not go with it")
			case opts.Target != "" && opts.NewName != "":
				return cmdutil.FlagErrorf("move: --target keeps the name; rename it apart")
			case opts.Target == "" && !elsewhere && opts.NewName == "":
				return cmdutil.FlagErrorf("move: --target MEMBER, --to HOST or --target-project P is required (or a NEW name, to rename)")
			case opts.Stop && opts.Target == "":
				return cmdutil.FlagErrorf("move: --stop is for --target; elsewhere use --stateless or stop it first")
			case opts.Stateless && !elsewhere:
				return cmdutil.FlagErrorf("move: --stateless is for --to and --target-project")
			}
			run := moveRun
			if opts.Target == "" && !elsewhere {
				run = renameRun
			} else if elsewhere {
				run = func(ctx context.Context, o *MoveOptions) error { return transferRun(ctx, o, true) }
			}
			return runMove(cmd.Context(), opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "the cluster member to move it to")
	cmd.Flags().BoolVar(&opts.Stop, "stop", false, "with --target: stop a running container, move it and start it again")
	transferFlags(cmd, opts)
	return cmd
}

// NewCmdCopy returns `lxkit copy`.
func NewCmdCopy(f *cmdutil.Factory, runF func(context.Context, *MoveOptions) error) *cobra.Command {
	opts := &MoveOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, ClientFor: f.ClientFor}
	cmd := &cobra.Command{
		Use:   "copy NAME NEW [--to HOST] [--target-project P] [--target MEMBER] [--snapshot S] [--instance-only] [--stateless]",
		Short: "Copy a container (stopped, or at a snapshot) to a new, stopped one",
		Long: `Copy a container to a new, stopped one: its current state, or the state of
one of its snapshots, named as lxc does (NAME/SNAP, one level below NEW: web/snap0
web2, outer/web/snap0 outer/web2) or with --snapshot. The copy is on the same host unless
--to names another (a remote, a socket or https://...), which pulls it
over HTTPS: this host must listen on HTTPS (lxkit listen), as lxc copy
remote: needs. --target-project puts it in another project (--project names
the one NAME is in, as with lxc). On a cluster, --target puts the copy on
another member. A running container is copied to another host only with
--stateless: its disk as it is, not its memory. A NEW that exists is left
as it is.`,
		Example: `  lxkit copy web web2
  lxkit copy web/snap0 web-then
  lxkit --host lxd-cluster copy web web-m3 --target m3
  lxkit copy web web --to lab
  lxkit copy web web --target-project staging --instance-only`,
		Args: cmdutil.ExactArgs(2, "a container name and the copy's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.NewName = args[0], args[1]
			if err := splitSnapshot(opts); err != nil {
				return err
			}
			if opts.Stateless && opts.To == "" {
				return cmdutil.FlagErrorf("copy: --stateless is for --to")
			}
			run := copyRun
			if opts.To != "" || opts.Project != "" {
				run = func(ctx context.Context, o *MoveOptions) error { return transferRun(ctx, o, false) }
			}
			return runMove(cmd.Context(), opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "on a cluster, the member (or @GROUP) to put the copy on")
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "copy this snapshot of NAME")
	cmd.Flags().BoolVar(&opts.InstanceOnly, "instance-only", false, "leave NAME's snapshots behind")
	transferFlags(cmd, opts)
	return cmd
}

// splitSnapshot reads lxc's NAME/SNAP: a source one level below NEW's
// host names a snapshot, where a nested container would be on another host
// than its copy (which copy refuses).
func splitSnapshot(opts *MoveOptions) error {
	i := strings.LastIndexByte(opts.Name, '/')
	parent := func(p string) string { return p[:strings.LastIndexByte(p, '/')+1] }
	if i < 0 || parent(opts.Name[:i]) != parent(opts.NewName) {
		return nil
	}
	if opts.Snapshot != "" {
		return cmdutil.FlagErrorf("copy: %s and --snapshot %s both name a snapshot", opts.Name, opts.Snapshot)
	}
	opts.Name, opts.Snapshot = opts.Name[:i], opts.Name[i+1:]
	return nil
}

// transferFlags are the flags of copy and move that send an instance to
// another host or project.
func transferFlags(cmd *cobra.Command, opts *MoveOptions) {
	cmd.Flags().StringVar(&opts.To, "to", "", "another `HOST` to put it on (a remote, a socket or https://...)")
	cmd.Flags().StringVar(&opts.Project, "target-project", "", "the `PROJECT` to put it in")
	cmd.Flags().BoolVar(&opts.Stateless, "stateless", false, "take a running container's disk as it is (not its memory)")
}

// NewCmdRename returns `lxkit rename`.
func NewCmdRename(f *cmdutil.Factory, runF func(context.Context, *MoveOptions) error) *cobra.Command {
	opts := &MoveOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	cmd := &cobra.Command{
		Use:   "rename NAME NEW [-f FILE [-p KEY=VALUE]...]",
		Short: "Rename a stopped container (one renamed already is left as it is); with -f, its volumes too",
		Long: `Rename a stopped container, with its snapshots, on its host. A container
renamed already (NAME gone, NEW there) is success; a NEW that another
container has is refused.

With -f FILE, NAME and NEW are instances of that configuration file (as
up, clone and the other commands of -f take them): the custom volumes it
names after the instance (NAME-data, by default) are renamed with it
(NEW-data) and its disk devices point at the new names; volumes whose
name does not change stay. Run again after a failure, it finishes the
renames left to do. A running container is refused before anything
changes: stop it, rename it, start it.`,
		Example: `  lxkit rename web web-old
  lxkit rename outer/web outer/web-old
  lxkit rename -f web.yaml web1 web2`,
		Args: cmdutil.ExactArgs(2, "a container name and its new name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.NewName = args[0], args[1]
			if opts.File == "" && len(opts.Props) > 0 {
				return cmdutil.FlagErrorf("rename: -p is for -f FILE")
			}
			run := renameRun
			if opts.File != "" {
				run = renameSpecRun
			}
			return runMove(cmd.Context(), opts, runF, run)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "the instance configuration `FILE` (YAML) whose volumes go with the instance")
	cmd.Flags().StringArrayVarP(&opts.Props, "property", "p", nil, "property KEY=VALUE for ${KEY}, repeatable (wins over the file's)")
	return cmd
}

// renameSpecRun is rename -f: the instance and the volumes its
// configuration names after it.
func renameSpecRun(ctx context.Context, opts *MoveOptions) error {
	dst, err := sameHost(opts, "rename", "a container keeps its host")
	if err != nil {
		return err
	}
	props, err := cmdutil.ParseConfig(opts.Props, false)
	if err != nil {
		return &cmdutil.FlagError{Err: fmt.Errorf("-p: %w", err)}
	}
	tpl, err := spec.Load(opts.File)
	if err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	name := opts.Name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		if d, err = driver.HostAt(ctx, d, name[:i]); err != nil {
			return err
		}
		name = name[i+1:]
	}
	old, err := tpl.Instance(name, props)
	if err != nil {
		return err
	}
	new, err := tpl.Instance(dst, props)
	if err != nil {
		return err
	}
	return fleet.New(d).Rename(ctx, old, new)
}

func renameRun(ctx context.Context, opts *MoveOptions) error {
	dst, err := sameHost(opts, "rename", "a container keeps its host")
	if err != nil {
		return err
	}
	h, name, err := openHost(ctx, opts.Driver, opts.Name)
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

// openHost opens the driver and returns the host below it that holds a
// container named by path, and its name there (see hostOf).
func openHost(ctx context.Context, open func(context.Context) (driver.Driver, error), path string) (*host.Host, string, error) {
	d, err := open(ctx)
	if err != nil {
		return nil, "", err
	}
	return hostOf(ctx, d, path)
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

// transferRun copies (or moves) an instance to another host (--to) or
// project (--target-project).
func transferRun(ctx context.Context, opts *MoveOptions, move bool) error {
	h, name, err := openHost(ctx, opts.Driver, opts.Name)
	if err != nil {
		return err
	}
	dst, newName := h, name
	if opts.To != "" {
		c, err := opts.ClientFor(ctx, opts.To)
		if err != nil {
			return fmt.Errorf("--to %s: %w", opts.To, err)
		}
		dst = host.New(c)
		if opts.NewName != "" {
			newName = opts.NewName
		}
	} else if opts.NewName != "" {
		verb := "copy"
		if move {
			verb = "move"
		}
		if newName, err = sameHost(opts, verb, "--target-project keeps its host"); err != nil {
			return err
		}
	}
	to := host.TransferOptions{
		CopyInstanceOptions: host.CopyInstanceOptions{Snapshot: opts.Snapshot, InstanceOnly: opts.InstanceOnly, Target: opts.Target},
		Project:             opts.Project, Stateless: opts.Stateless,
	}
	if move {
		return h.MoveInstanceTo(ctx, dst, name, newName, to)
	}
	return h.CopyInstanceTo(ctx, dst, name, newName, to)
}

func moveRun(ctx context.Context, opts *MoveOptions) error {
	h, name, err := openHost(ctx, opts.Driver, opts.Name)
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
	h, name, err := openHost(ctx, opts.Driver, opts.Name)
	if err != nil {
		return err
	}
	return h.CopyInstance(ctx, name, dst, host.CopyInstanceOptions{
		Snapshot: opts.Snapshot, InstanceOnly: opts.InstanceOnly, Target: opts.Target,
	})
}
