package hostcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// collection is what the generic commands use of a host.Collection
// (whatever its Put type).
type collection[T, Post any] interface {
	List(ctx context.Context) ([]T, error)
	Get(ctx context.Context, name string) (*T, error)
	Exists(ctx context.Context, name string) (bool, error)
	Make(ctx context.Context, post Post) (made bool, err error)
	Delete(ctx context.Context, name string) error
	Rename(ctx context.Context, name, newName string) error
}

// kind describes a kind of host object for the generic list, show,
// create, set, unset, rename and delete commands.
type kind[T, Post any] struct {
	noun string // "profile", in help and messages
	arg  string // "PROFILE", in usage lines
	// parent is the argument the objects belong to ("POOL"), parentNoun
	// its noun; empty for objects of the host itself. validParent checks
	// its name.
	parent, parentNoun string
	validParent        func(name string) error

	coll func(h *host.Host, parent string) collection[T, Post]
	name func(*T) *string
	// header and row are the columns of list after NAME, tab-separated.
	header string
	row    func(*T) string

	// post makes what create sends; typeArg, when set, is a positional
	// argument of create after the name that goes to Options.Type
	// ("DRIVER"); createFlags adds the kind's own flags and returns what
	// reads them, after the arguments.
	post        func(o *Options) Post
	typeArg     string
	createFlags func(cmd *cobra.Command, o *Options) (parse func() error)
	// update applies change to an object's configuration and description.
	update func(ctx context.Context, h *host.Host, parent, name string, change func(config *map[string]string, description *string)) error
	// getParent reads the parent, for a clear error when it is missing.
	getParent func(ctx context.Context, o *Options) error
	// noRename is set for kinds the daemons cannot rename.
	noRename bool
}

// explain turns a not-found error into the parent's, when the parent is
// what is missing: "storage pool p not found", not "volume v not found".
func (k *kind[T, Post]) explain(ctx context.Context, o *Options, err error) error {
	if k.getParent == nil || !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	if perr := k.getParent(ctx, o); errors.Is(perr, errdefs.ErrNotFound) {
		return perr
	}
	return err
}

// objectUse is how the usage lines name one object.
func (k *kind[T, Post]) objectUse() string {
	if k.parent != "" {
		return "[HOST/]" + k.parent + " " + k.arg
	}
	return "[HOST/]" + k.arg
}

// nArgs is how many arguments name one object.
func (k *kind[T, Post]) nArgs() int {
	if k.parent != "" {
		return 2
	}
	return 1
}

// setObjects reads the object arguments ([HOST/]PARENT, then names) into
// o and returns the rest.
func (k *kind[T, Post]) setObjects(o *Options, args []string, names int) ([]string, error) {
	if k.parent == "" {
		err := o.setNames(args[:names])
		return args[names:], err
	}
	var err error
	if o.Parent, err = o.setHost(args[0], true); err != nil {
		return nil, err
	}
	if err := k.validParent(o.Parent); err != nil {
		return nil, err
	}
	o.Names = append([]string(nil), args[1:1+names]...)
	return args[1+names:], nil
}

// describe names an object in messages: "profile outer/web", "volume v1
// of storage pool p".
func (k *kind[T, Post]) describe(o *Options, name string) string {
	if k.parent != "" {
		return fmt.Sprintf("%s %s of %s %s", k.noun, name, k.parentNoun, o.path(o.Parent))
	}
	return k.noun + " " + o.path(name)
}

// open returns the collection the command acts on.
func (k *kind[T, Post]) open(ctx context.Context, o *Options) (collection[T, Post], error) {
	h, err := o.host(ctx)
	if err != nil {
		return nil, err
	}
	return k.coll(h, o.Parent), nil
}

// commands returns list, show, create, set, unset, rename and delete (the
// ones the kind supports: create needs post, set and unset update).
func (k *kind[T, Post]) commands(f *cmdutil.Factory, runF runFunc) []*cobra.Command {
	cmds := []*cobra.Command{k.listCmd(f, runF), k.showCmd(f, runF)}
	if k.post != nil {
		cmds = append(cmds, k.createCmd(f, runF))
	}
	if k.update != nil {
		cmds = append(cmds, k.setCmd(f, runF), k.unsetCmd(f, runF))
	}
	if !k.noRename {
		cmds = append(cmds, k.renameCmd(f, runF))
	}
	return append(cmds, k.deleteCmd(f, runF))
}

func (k *kind[T, Post]) listCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "list")
	cmd := &cobra.Command{
		Use:   "list [HOST/][PREFIX]",
		Short: fmt.Sprintf("List the %ss, or those whose name starts with PREFIX", k.noun),
		Long: fmt.Sprintf(`List the %ss: a table, or with --format json or yaml the daemon's records.
"list outer/" lists those of the host inside container outer, named
outer/NAME as the other commands take them.`, k.noun),
		Args: cmdutil.MaximumArgs(1, "at most one name prefix"),
	}
	parse := func(_ *cobra.Command, args []string) error {
		if len(args) == 1 {
			p, err := opts.setHost(args[0], true)
			opts.Prefix = p
			return err
		}
		return nil
	}
	if k.parent != "" {
		cmd.Use = "list [HOST/]" + k.parent
		cmd.Short = fmt.Sprintf("List the %ss of a %s", k.noun, k.parentNoun)
		cmd.Long = ""
		cmd.Args = cmdutil.ExactArgs(1, "one "+k.parentNoun)
		parse = func(_ *cobra.Command, args []string) error {
			_, err := k.setObjects(opts, args, 0)
			return err
		}
	}
	cmd.RunE = runE(opts, parse, runF, k.list)
	return cmd
}

func (k *kind[T, Post]) list(ctx context.Context, o *Options) error {
	c, err := k.open(ctx, o)
	if err != nil {
		return err
	}
	all, err := c.List(ctx)
	if err != nil {
		return k.explain(ctx, o, err)
	}
	out := []T{}
	for _, t := range all {
		if strings.HasPrefix(*k.name(&t), o.Prefix) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(*k.name(&a), *k.name(&b)) })
	if k.parent == "" {
		// Names as other commands take them: "outer/web".
		for i := range out {
			n := k.name(&out[i])
			*n = o.path(*n)
		}
	}
	return cmdutil.Print(o.IO, o.Globals.Format, out, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "NAME\t"+k.header)
		for i := range out {
			fmt.Fprintf(tw, "%s\t%s\n", *k.name(&out[i]), k.row(&out[i]))
		}
		return tw.Flush()
	})
}

func (k *kind[T, Post]) showCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "show")
	return &cobra.Command{
		Use:   "show " + k.objectUse(),
		Short: fmt.Sprintf("Print a %s (YAML, or --format json)", k.noun),
		Args:  cmdutil.ExactArgs(k.nArgs(), "one "+k.noun),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			_, err := k.setObjects(opts, args, 1)
			return err
		}, runF, k.show),
	}
}

func (k *kind[T, Post]) show(ctx context.Context, o *Options) error {
	c, err := k.open(ctx, o)
	if err != nil {
		return err
	}
	t, err := c.Get(ctx, o.Names[0])
	if err != nil {
		return k.explain(ctx, o, err)
	}
	return cmdutil.Print(o.IO, o.Globals.Format, t, func(w io.Writer) error { return cmdutil.WriteYAML(w, t) })
}

func (k *kind[T, Post]) createCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "create")
	use, what, n := "create "+k.objectUse(), "one "+k.noun, k.nArgs()
	if k.typeArg != "" {
		use, what, n = use+" "+k.typeArg, fmt.Sprintf("a %s and its %s", k.noun, strings.ToLower(k.typeArg)), n+1
	}
	var description string
	cmd := &cobra.Command{
		Use:   use + " [KEY=VALUE...] [--description D]",
		Short: fmt.Sprintf("Create a %s (an existing one is left as it is)", k.noun),
		Args:  cmdutil.MinimumArgs(n, what),
	}
	parseFlags := func() error { return nil }
	if k.createFlags != nil {
		parseFlags = k.createFlags(cmd, opts)
	}
	cmd.RunE = runE(opts, func(cmd *cobra.Command, args []string) error {
		rest, err := k.setObjects(opts, args, 1)
		if err != nil {
			return err
		}
		if err := host.ValidateNewName(k.noun, opts.Names[0]); err != nil {
			return err
		}
		if k.typeArg != "" {
			opts.Type, rest = rest[0], rest[1:]
		}
		if opts.Config, err = cmdutil.ParseConfig(rest, false); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		if cmd.Flags().Changed("description") {
			opts.Description = &description
		}
		return parseFlags()
	}, runF, k.create)
	cmd.Flags().StringVar(&description, "description", "", "the "+k.noun+"'s description")
	return cmd
}

func (k *kind[T, Post]) create(ctx context.Context, o *Options) error {
	c, err := k.open(ctx, o)
	if err != nil {
		return err
	}
	what := k.describe(o, o.Names[0])
	made, err := c.Make(ctx, k.post(o))
	switch {
	case err != nil:
		return k.explain(ctx, o, err)
	case made:
		cmdutil.Success(o.IO, o.Globals, "Created %s", what)
	default:
		cmdutil.Success(o.IO, o.Globals, "The %s exists already: left as it is", what)
	}
	return nil
}

func (k *kind[T, Post]) setCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "set")
	var description string
	cmd := &cobra.Command{
		Use:   "set " + k.objectUse() + " KEY=VALUE... [--description D]",
		Short: fmt.Sprintf("Set configuration keys of a %s (KEY= removes one)", k.noun),
		Args:  cmdutil.MinimumArgs(k.nArgs(), "one "+k.noun+" and KEY=VALUE pairs"),
	}
	cmd.RunE = runE(opts, func(cmd *cobra.Command, args []string) error {
		rest, err := k.setObjects(opts, args, 1)
		if err != nil {
			return err
		}
		if opts.Config, err = cmdutil.ParseConfig(rest, true); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		if cmd.Flags().Changed("description") {
			opts.Description = &description
		}
		if len(opts.Config) == 0 && opts.Description == nil {
			return cmdutil.FlagErrorf("nothing to set: give KEY=VALUE pairs or --description")
		}
		return nil
	}, runF, k.set)
	cmd.Flags().StringVar(&description, "description", "", "set the "+k.noun+"'s description")
	return cmd
}

func (k *kind[T, Post]) unsetCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "unset")
	return &cobra.Command{
		Use:   "unset " + k.objectUse() + " KEY...",
		Short: fmt.Sprintf("Remove configuration keys of a %s", k.noun),
		Args:  cmdutil.MinimumArgs(k.nArgs()+1, "one "+k.noun+" and at least one key"),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			rest, err := k.setObjects(opts, args, 1)
			if err != nil {
				return err
			}
			opts.Config, err = parseKeys(rest)
			return err
		}, runF, k.set),
	}
}

// set runs set and unset: unset's keys have empty values.
func (k *kind[T, Post]) set(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	err = k.update(ctx, h, o.Parent, o.Names[0], func(config *map[string]string, description *string) {
		host.MergeConfig(config, o.Config)
		if o.Description != nil {
			*description = *o.Description
		}
	})
	if err != nil {
		return k.explain(ctx, o, err)
	}
	cmdutil.Success(o.IO, o.Globals, "Updated %s", k.describe(o, o.Names[0]))
	return nil
}

func (k *kind[T, Post]) renameCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "rename")
	return &cobra.Command{
		Use:   "rename " + k.objectUse() + " NEW",
		Short: fmt.Sprintf("Rename a %s", k.noun),
		Args:  cmdutil.ExactArgs(k.nArgs()+1, "one "+k.noun+" and its new name"),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			rest, err := k.setObjects(opts, args, 1)
			if err != nil {
				return err
			}
			if err := opts.setNewName(rest[0]); err != nil {
				return err
			}
			return host.ValidateNewName(k.noun, opts.NewName)
		}, runF, k.rename),
	}
}

func (k *kind[T, Post]) rename(ctx context.Context, o *Options) error {
	c, err := k.open(ctx, o)
	if err != nil {
		return err
	}
	if err := c.Rename(ctx, o.Names[0], o.NewName); err != nil {
		return k.explain(ctx, o, err)
	}
	cmdutil.Success(o.IO, o.Globals, "Renamed %s to %s", k.describe(o, o.Names[0]), o.NewName)
	return nil
}

func (k *kind[T, Post]) deleteCmd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "delete")
	use, what := "delete "+k.objectUse()+"...", "at least one "+k.noun
	if k.parent != "" {
		what = fmt.Sprintf("a %s and at least one %s", k.parentNoun, k.noun)
	}
	return &cobra.Command{
		Use:   use,
		Short: fmt.Sprintf("Delete %ss; a missing one is not an error", k.noun),
		Long: fmt.Sprintf(`Delete %ss, one after the other. A missing one is not an error; one
still in use is refused, and the error says by what.`, k.noun),
		Args: cmdutil.MinimumArgs(k.nArgs(), what),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			_, err := k.setObjects(opts, args, len(args)-k.nArgs()+1)
			if err != nil {
				return err
			}
			// Every name is checked before anything is deleted.
			for _, n := range opts.Names {
				if err := host.ValidateName(k.noun, n); err != nil {
					return err
				}
			}
			return nil
		}, runF, k.delete),
	}
}

func (k *kind[T, Post]) delete(ctx context.Context, o *Options) error {
	c, err := k.open(ctx, o)
	if err != nil {
		return err
	}
	errs := make([]error, len(o.Names))
	for i, n := range o.Names {
		if errs[i] = c.Delete(ctx, n); errs[i] == nil {
			cmdutil.Success(o.IO, o.Globals, "Deleted %s", k.describe(o, n))
		}
	}
	return joinErrors(errs)
}
