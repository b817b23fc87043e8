// Package declare holds the commands of declarative instances: up,
// rebuild, down, clone, checkpoint, rollback, configure, diff and render
// for instances of a configuration file, and plan and apply for fleets.
package declare

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/spec"
)

// Options are the inputs of the commands here: each fills the fields its
// flags and arguments name.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)
	// DriverIn opens the host in another project (clone --target-project).
	DriverIn func(context.Context, string) (driver.Driver, error)

	File       string            // -f: the configuration (or fleet) file
	Properties map[string]string // -p KEY=VALUE
	Names      []string          // the instances (clone: the source, then the new one)
	Snapshot   string            // checkpoint and rollback: the snapshot; clone --snapshot
	Force      bool              // rebuild and rollback --force: stop at once; configure --force: apply again
	Volumes    bool              // down --volumes
	Prune      bool              // plan and apply --prune
	Parallel   int               // apply --parallel
	Project    string            // clone --target-project
}

func newOptions(f *cmdutil.Factory) *Options {
	return &Options{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, DriverIn: f.DriverIn}
}

// Cmds returns the commands of this package, for the root command.
func Cmds(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{
		NewCmdUp(f, nil), NewCmdRebuild(f, nil), NewCmdDown(f, nil),
		NewCmdClone(f, nil), NewCmdCheckpoint(f, nil), NewCmdRollback(f, nil),
		NewCmdConfigure(f, nil), NewCmdDiff(f, nil),
		NewCmdRender(f, nil), NewCmdPlan(f, nil), NewCmdApply(f, nil),
	}
}

// fileFlags adds -f and -p; props is parsed into opts before RunE.
func fileFlags(cmd *cobra.Command, opts *Options, what string) *[]string {
	var props []string
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", what)
	cmd.Flags().StringArrayVarP(&props, "property", "p", nil, "property KEY=VALUE for ${KEY}, repeatable (wins over the file's)")
	return &props
}

func parseProps(opts *Options, props []string) error {
	if opts.File == "" {
		return cmdutil.FlagErrorf("-f FILE is required")
	}
	p, err := cmdutil.ParseConfig(props, false)
	if err != nil {
		return &cmdutil.FlagError{Err: fmt.Errorf("-p: %w", err)}
	}
	opts.Properties = p
	return nil
}

// target is one instance of a configuration, on the host that runs it.
type target struct {
	m    *fleet.Manager
	spec *spec.Spec
}

// targets resolves names (nested paths allowed: the configuration's
// volumes and profiles are those of the host that runs the instance).
func targets(ctx context.Context, opts *Options, names []string) ([]target, error) {
	if err := cmdutil.ValidateNames(names...); err != nil {
		return nil, err
	}
	tpl, err := spec.Load(opts.File)
	if err != nil {
		return nil, err
	}
	top, err := opts.Driver(ctx)
	if err != nil {
		return nil, err
	}
	var out []target
	for _, name := range names {
		d, base := top, name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			if d, err = driver.HostAt(ctx, top, name[:i]); err != nil {
				return nil, err
			}
			base = name[i+1:]
		}
		s, err := tpl.Instance(base, opts.Properties)
		if err != nil {
			return nil, err
		}
		m := fleet.New(d)
		m.Out = opts.IO.ErrOut
		out = append(out, target{m: m, spec: s})
	}
	return out, nil
}

// eachTarget runs do for every name, reporting each done.
func eachTarget(ctx context.Context, opts *Options, verb string, do func(context.Context, target) error) error {
	ts, err := targets(ctx, opts, opts.Names)
	if err != nil {
		return err
	}
	for i, t := range ts {
		p := cmdutil.StartProgress(opts.IO, opts.Globals, verb+" "+opts.Names[i], false)
		err := do(ctx, t)
		p.Stop()
		if err != nil {
			return err
		}
		cmdutil.Success(opts.IO, opts.Globals, "%s %s", doneVerb(verb), opts.Names[i])
	}
	return nil
}

func doneVerb(verb string) string {
	switch verb {
	case "Launching":
		return "Launched"
	case "Rebuilding":
		return "Rebuilt"
	case "Deleting":
		return "Deleted"
	}
	return "Done:"
}

// namesCmd is a command on NAME... of a configuration file.
// With split, the last argument is a snapshot's name (opts.Snapshot).
func namesCmd(opts *Options, use, short, long, example string, split bool, runF func(context.Context, *Options) error, run func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: cmdutil.MinimumArgs(1, "at least one instance name"),
	}
	props := fileFlags(cmd, opts, "the instance configuration file (YAML)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := parseProps(opts, *props); err != nil {
			return err
		}
		opts.Names = args
		if split {
			opts.Names, opts.Snapshot = args[:len(args)-1], args[len(args)-1]
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
	return cmd
}

// NewCmdUp returns `lxkit up`.
func NewCmdUp(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	return namesCmd(opts, "up -f FILE NAME...", "Launch instances as a configuration file says",
		`Launch each instance as the configuration file says: its custom volumes
(made if missing, or copied from a template's volume when they name an
origin; used as they are otherwise), the instance itself (from its image, or
a copy of a template's snapshot: origin: TEMPLATE/SNAPSHOT), started, and its
cloud-config files applied. An instance that exists is left as it is.`,
		`  lxkit up -f web.yaml web1 web2
  lxkit up -f web.yaml -p site=example.org web3`,
		false, runF, func(ctx context.Context, opts *Options) error {
			return eachTarget(ctx, opts, "Launching", func(ctx context.Context, t target) error { return t.m.Launch(ctx, t.spec) })
		})
}

// NewCmdRebuild returns `lxkit rebuild`.
func NewCmdRebuild(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := namesCmd(opts, "rebuild -f FILE NAME...", "Rebuild instances from their configuration, keeping their volumes",
		`Replace each instance with a new one made from the configuration file (a
newer image, or a newer template snapshot as its origin): the old one is
stopped and deleted, the new one launched with the same custom volumes, so
what they hold stays. A missing origin snapshot is an error before anything
is deleted.`,
		`  lxkit rebuild -f web.yaml web1`,
		false, runF, func(ctx context.Context, opts *Options) error {
			return eachTarget(ctx, opts, "Rebuilding", func(ctx context.Context, t target) error {
				return t.m.Rebuild(ctx, t.spec, driver.StopOptions{Force: opts.Force})
			})
		})
	cmd.Flags().BoolVar(&opts.Force, "force", false, "stop the old instances at once")
	return cmd
}

// NewCmdDown returns `lxkit down`.
func NewCmdDown(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := namesCmd(opts, "down -f FILE NAME...", "Delete instances of a configuration file (volumes only with --volumes)",
		`Delete each instance. Its custom volumes stay, for a later up, unless
--volumes deletes them too, with their data. Missing ones are success.`,
		`  lxkit down -f web.yaml web1
  lxkit down -f web.yaml --volumes web1`,
		false, runF, func(ctx context.Context, opts *Options) error {
			return eachTarget(ctx, opts, "Deleting", func(ctx context.Context, t target) error {
				return t.m.Delete(ctx, t.spec, fleet.DeleteOptions{Volumes: opts.Volumes})
			})
		})
	cmd.Flags().BoolVar(&opts.Volumes, "volumes", false, "delete the instances' volumes too, with their data")
	return cmd
}

// NewCmdCheckpoint returns `lxkit checkpoint`.
func NewCmdCheckpoint(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := namesCmd(opts, "checkpoint -f FILE NAME SNAPSHOT", "Snapshot an instance and its volumes together",
		"Snapshot an instance and each of its custom volumes under one name, for rollback.",
		`  lxkit checkpoint -f web.yaml web1 before-upgrade`,
		true, runF, func(ctx context.Context, opts *Options) error {
			return eachTarget(ctx, opts, "Snapshotting", func(ctx context.Context, t target) error { return t.m.Snapshot(ctx, t.spec, opts.Snapshot) })
		})
	cmd.Args = cmdutil.ExactArgs(2, "an instance name and a snapshot name")
	return cmd
}

// NewCmdRollback returns `lxkit rollback`.
func NewCmdRollback(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := namesCmd(opts, "rollback -f FILE NAME SNAPSHOT", "Bring an instance and its volumes back to a checkpoint",
		"Stop the instance, restore it and its custom volumes to the snapshot that checkpoint made, and start it again if it was running.",
		`  lxkit rollback -f web.yaml web1 before-upgrade`,
		true, runF, func(ctx context.Context, opts *Options) error {
			return eachTarget(ctx, opts, "Rolling back", func(ctx context.Context, t target) error {
				return t.m.Rollback(ctx, t.spec, opts.Snapshot, driver.StopOptions{Force: opts.Force})
			})
		})
	cmd.Args = cmdutil.ExactArgs(2, "an instance name and a snapshot name")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "stop the instance at once")
	return cmd
}

// NewCmdClone returns `lxkit clone`.
func NewCmdClone(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := namesCmd(opts, "clone -f FILE SOURCE NEW [--snapshot S] [--target-project P]", "Make an instance as a copy of another of the same configuration",
		`Make NEW as a copy of SOURCE (at --snapshot, if given), both instances of the
configuration file: the root filesystem and every custom volume are copied
(NEW's volumes get NEW's names), and NEW is started. Cloud-config files are
not applied again: the copy has what they did. A NEW that exists is left as
it is.

--target-project P makes NEW and its volumes in project P of the host
(--project names SOURCE's, as with copy); the profiles NEW names must exist
there. A project without features.storage.volumes keeps its volumes in the
default project: a volume not named after its instance would then be
SOURCE's own, and is refused.`,
		`  lxkit clone -f web.yaml web1 web2 --snapshot golden
  lxkit clone -f web.yaml web1 web1 --target-project staging`,
		false, runF, func(ctx context.Context, opts *Options) error {
			if opts.Project != "" {
				return cloneToProject(ctx, opts)
			}
			ts, err := targets(ctx, opts, opts.Names)
			if err != nil {
				return err
			}
			p := cmdutil.StartProgress(opts.IO, opts.Globals, "Cloning "+opts.Names[0]+" to "+opts.Names[1], false)
			err = ts[1].m.Clone(ctx, ts[0].spec, ts[1].spec, opts.Snapshot)
			p.Stop()
			return err
		})
	cmd.Args = cmdutil.ExactArgs(2, "the source and the new instance's names")
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "copy this snapshot of SOURCE (default: its current state; a running SOURCE must be stopped)")
	cmd.Flags().StringVar(&opts.Project, "target-project", "", "make NEW in `PROJECT` of the host")
	return cmd
}

// cloneToProject is clone --target-project: SOURCE in the project lxkit
// works in, NEW in opts.Project, on the top host (nested hosts work in
// their default project).
func cloneToProject(ctx context.Context, opts *Options) error {
	if err := cmdutil.ValidateNames(opts.Names...); err != nil {
		return err
	}
	for _, n := range opts.Names {
		if strings.Contains(n, "/") {
			return cmdutil.FlagErrorf("clone: --target-project is for the host's own instances, not %s inside a container", n)
		}
	}
	if opts.DriverIn == nil {
		return fmt.Errorf("clone: --target-project: no way to open another project")
	}
	tpl, err := spec.Load(opts.File)
	if err != nil {
		return err
	}
	var specs [2]*spec.Spec
	for i, n := range opts.Names {
		if specs[i], err = tpl.Instance(n, opts.Properties); err != nil {
			return err
		}
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	into, err := opts.DriverIn(ctx, opts.Project)
	if err != nil {
		return fmt.Errorf("--target-project %s: %w", opts.Project, err)
	}
	m, to := fleet.New(d), fleet.New(into)
	m.Out, to.Out = opts.IO.ErrOut, opts.IO.ErrOut
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Cloning "+opts.Names[0]+" to "+opts.Names[1]+" in project "+opts.Project, false)
	err = m.CloneTo(ctx, to, specs[0], specs[1], opts.Snapshot)
	p.Stop()
	return err
}

// NewCmdRender returns `lxkit render`.
func NewCmdRender(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	return namesCmd(opts, "render -f FILE NAME...", "Print what a configuration file makes of instances",
		`Print each instance's configuration, includes merged and properties expanded,
without asking any host. Its cloud-config files are read and checked as up
reads them (with cloud-config-mode: native, as cloud-init's user-data).`,
		`  lxkit render -f web.yaml web1 --format json`,
		false, runF, func(ctx context.Context, opts *Options) error {
			tpl, err := spec.Load(opts.File)
			if err != nil {
				return err
			}
			var specs []*spec.Spec
			for _, name := range opts.Names {
				s, err := tpl.Instance(name[strings.LastIndexByte(name, '/')+1:], opts.Properties)
				if err != nil {
					return err
				}
				check := func(files []string) error { _, err := fleet.CloudConfig(files); return err }
				if s.CloudConfigMode == spec.CloudConfigNative {
					check = func(files []string) error { _, err := fleet.NativeUserData(files); return err }
				}
				if err := check(s.CloudConfig); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
				specs = append(specs, s)
			}
			format := opts.Globals.Format
			if format == cmdutil.FormatTable {
				format = cmdutil.FormatYAML // a spec has no table
			}
			return cmdutil.Print(opts.IO, format, specs, nil)
		})
}

// fleetCmd is plan or apply.
func fleetCmd(opts *Options, use, short, long string, runF func(context.Context, *Options) error, run func(context.Context, *Options, *fleet.Manager, []fleet.Change) error) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: cmdutil.ExactArgs(1, "a fleet file"),
	}
	props := fileFlags(cmd, opts, "")
	_ = cmd.Flags().MarkHidden("file")
	cmd.Flags().BoolVar(&opts.Prune, "prune", false, "delete instances of the fleet that the file no longer lists")
	opts.Driver = cmdutil.OnFlag(cmd.Flags(), opts.Driver)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.File = args[0]
		if err := parseProps(opts, *props); err != nil {
			return err
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		ctx := cmd.Context()
		f, err := fleet.Load(opts.File, opts.Properties)
		if err != nil {
			return err
		}
		d, err := opts.Driver(ctx)
		if err != nil {
			return err
		}
		m := fleet.New(d)
		m.Fleet = f.Name
		m.Out = opts.IO.ErrOut
		plan, err := m.Plan(ctx, f, fleet.PlanOptions{Prune: opts.Prune})
		if err != nil {
			return err
		}
		return run(ctx, opts, m, plan)
	}
	return cmd
}

// printPlan writes a plan as lines, or as JSON or YAML.
func printPlan(opts *Options, plan []fleet.Change) error {
	type row struct {
		Instance string   `json:"instance"`
		Action   string   `json:"action"`
		Why      []string `json:"why,omitempty"`
	}
	rows := make([]row, 0, len(plan))
	for _, c := range plan {
		rows = append(rows, row{c.Instance, string(c.Action), c.Why})
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, rows, func(w io.Writer) error {
		for _, c := range plan {
			if _, err := fmt.Fprintln(w, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// NewCmdPlan returns `lxkit plan`.
func NewCmdPlan(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	return fleetCmd(opts, "plan FLEET.yaml", "Say what apply would change to make the host hold a fleet",
		`Compare a fleet file with the host and print, changing nothing, what apply
would do to each instance: + create, ~ update (what differs: also a profile
or a cloud-config file that changed since the instance was made or updated),
! rebuild (a new image or origin snapshot), - delete (with --prune), = keep,
? skip (not the fleet's).`,
		runF, func(ctx context.Context, opts *Options, m *fleet.Manager, plan []fleet.Change) error {
			return printPlan(opts, plan)
		})
}

// NewCmdApply returns `lxkit apply`.
func NewCmdApply(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := fleetCmd(opts, "apply FLEET.yaml", "Make the host hold a fleet: create, update, rebuild (and prune) instances",
		`Plan as 'lxkit plan' does, print the plan, and carry it out in order,
stopping at the first failure (instances are stopped gracefully for a
rebuild; cloud-config files that changed are applied again). With --parallel N, N changes run at once; after a failure no
other starts and those under way finish. A second apply has nothing to do.`,
		runF, func(ctx context.Context, opts *Options, m *fleet.Manager, plan []fleet.Change) error {
			if err := printPlan(opts, plan); err != nil {
				return err
			}
			return m.Apply(ctx, plan, fleet.ApplyOptions{Parallel: opts.Parallel, Report: func(c fleet.Change) {
				cmdutil.Success(opts.IO, opts.Globals, "done: %s %s", c.Action, c.Instance)
			}})
		})
	cmd.Flags().IntVar(&opts.Parallel, "parallel", 1, "carry out `N` changes at once")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if opts.Parallel < 1 {
			return cmdutil.FlagErrorf("--parallel %d: want 1 or more", opts.Parallel)
		}
		return nil
	}
	return cmd
}
