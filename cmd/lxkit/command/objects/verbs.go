package objects

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// ListOptions are the inputs of `KIND list`.
type ListOptions struct {
	Scope
	Parent string // the pool of volumes, the container of snapshots
	Prefix string // keeps the objects whose names start with it
}

// NewCmdList returns `KIND list`. runF, when not nil, runs instead (for
// tests).
func NewCmdList[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Scope: NewScope(f)}
	cmd := &cobra.Command{
		Use:   "list [HOST/][PREFIX]",
		Short: fmt.Sprintf("List the %ss, or those whose name starts with PREFIX", k.Noun),
		Long: fmt.Sprintf(`List the %ss: a table, or with --format json or yaml the daemon's records.
"list outer/" lists those of the host inside container outer, named
outer/NAME as the other commands take them.`, k.Noun),
		Args: cmdutil.MaximumArgs(1, "at most one name prefix"),
	}
	parse := func(_ *cobra.Command, args []string) (err error) {
		if len(args) == 1 {
			opts.Prefix, err = opts.SetHost(args[0], true)
		}
		return err
	}
	if k.Parent != "" {
		cmd.Use = "list [HOST/]" + k.Parent
		cmd.Short = fmt.Sprintf("List the %ss of a %s", k.Noun, k.ParentNoun)
		cmd.Long = ""
		cmd.Args = cmdutil.ExactArgs(1, "one "+k.ParentNoun)
		parse = func(_ *cobra.Command, args []string) error {
			_, _, err := k.SetObjects(&opts.Scope, &opts.Parent, args, 0)
			return err
		}
	}
	cmd.RunE = RunE(opts, parse, runF, k.list)
	return cmd
}

func (k *Kind[T, Post]) list(ctx context.Context, o *ListOptions) error {
	c, err := k.open(ctx, &o.Scope, o.Parent)
	if err != nil {
		return err
	}
	all, err := c.List(ctx)
	if err != nil {
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	}
	out := []T{}
	for _, t := range all {
		if strings.HasPrefix(*k.Name(&t), o.Prefix) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(*k.Name(&a), *k.Name(&b)) })
	if k.Parent == "" {
		// Names as other commands take them: "outer/web".
		for i := range out {
			n := k.Name(&out[i])
			*n = o.Path(*n)
		}
	}
	return cmdutil.Print(o.IO, o.Globals.Format, out, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "NAME\t"+k.Header)
		for i := range out {
			fmt.Fprintf(tw, "%s\t%s\n", *k.Name(&out[i]), k.Row(&out[i]))
		}
		return tw.Flush()
	})
}

// ShowOptions are the inputs of `KIND show`.
type ShowOptions struct {
	Scope
	Parent, Name string
}

// NewCmdShow returns `KIND show`. runF, when not nil, runs instead (for
// tests).
func NewCmdShow[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Scope: NewScope(f)}
	return &cobra.Command{
		Use:   "show " + k.objectUse(),
		Short: fmt.Sprintf("Print a %s (YAML, or --format json)", k.Noun),
		Args:  cmdutil.ExactArgs(k.nArgs(), "one "+k.Noun),
		RunE: RunE(opts, func(_ *cobra.Command, args []string) error {
			_, err := k.setObject(&opts.Scope, &opts.Parent, &opts.Name, args)
			return err
		}, runF, k.show),
	}
}

func (k *Kind[T, Post]) show(ctx context.Context, o *ShowOptions) error {
	c, err := k.open(ctx, &o.Scope, o.Parent)
	if err != nil {
		return err
	}
	t, err := c.Get(ctx, o.Name)
	if err != nil {
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	}
	return cmdutil.Print(o.IO, o.Globals.Format, t, func(w io.Writer) error { return cmdutil.WriteYAML(w, t) })
}

// CreateOptions are the inputs of `KIND create`.
type CreateOptions struct {
	Scope
	Parent, Name string
	// Type is the storage pool's driver, the network's type.
	Type        string
	Config      map[string]string
	Description string
	// Devices are a profile's, by name.
	Devices map[string]map[string]string
	// Target is the cluster member to make it on (kinds with OnMember).
	Target string
}

// NewCmdCreate returns `KIND create`. runF, when not nil, runs instead
// (for tests).
func NewCmdCreate[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Scope: NewScope(f)}
	use, what, n := "create "+k.objectUse(), "one "+k.Noun, k.nArgs()
	if k.TypeArg != "" {
		use, what, n = use+" "+k.TypeArg, fmt.Sprintf("a %s and its %s", k.Noun, strings.ToLower(k.TypeArg)), n+1
	}
	cmd := &cobra.Command{
		Use:   use + " [KEY=VALUE...] [--description D]",
		Short: fmt.Sprintf("Create a %s (an existing one is left as it is)", k.Noun),
		Args:  cmdutil.MinimumArgs(n, what),
	}
	parseFlags := func() error { return nil }
	if k.CreateFlags != nil {
		parseFlags = k.CreateFlags(cmd, opts)
	}
	cmd.RunE = RunE(opts, func(_ *cobra.Command, args []string) error {
		rest, err := k.setObject(&opts.Scope, &opts.Parent, &opts.Name, args)
		if err != nil {
			return err
		}
		if err := host.ValidateNewName(k.Noun, opts.Name); err != nil {
			return err
		}
		if k.TypeArg != "" {
			opts.Type, rest = rest[0], rest[1:]
		}
		if opts.Config, err = cmdutil.ParseConfig(rest, false); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		return parseFlags()
	}, runF, k.create)
	cmd.Flags().StringVar(&opts.Description, "description", "", "the "+k.Noun+"'s description")
	if k.OnMember != nil {
		cmd.Flags().StringVar(&opts.Target, "target", "", "on a cluster, the member to make it on")
	}
	return cmd
}

func (k *Kind[T, Post]) create(ctx context.Context, o *CreateOptions) error {
	c, err := k.open(ctx, &o.Scope, o.Parent)
	if err != nil {
		return err
	}
	if o.Target != "" {
		h, err := o.HostAPI(ctx)
		if err != nil {
			return err
		}
		c = k.OnMember(h, o.Parent, o.Target)
	}
	what := k.Describe(&o.Scope, o.Parent, o.Name)
	made, err := c.Make(ctx, k.Post(o))
	switch {
	case err != nil:
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	case made:
		cmdutil.Success(o.IO, o.Globals, "Created %s", what)
	default:
		cmdutil.Success(o.IO, o.Globals, "The %s exists already: left as it is", what)
	}
	return nil
}

// SetOptions are the inputs of `KIND set` and `KIND unset`.
type SetOptions struct {
	Scope
	Parent, Name string
	// Config is the change: an empty value removes a key (all of unset's
	// are empty).
	Config      map[string]string
	Description *string // nil leaves it as it is
}

// NewCmdSet returns `KIND set`. runF, when not nil, runs instead (for
// tests).
func NewCmdSet[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *SetOptions) error) *cobra.Command {
	opts := &SetOptions{Scope: NewScope(f)}
	var description string
	cmd := &cobra.Command{
		Use:   "set " + k.objectUse() + " KEY=VALUE... [--description D]",
		Short: fmt.Sprintf("Set configuration keys of a %s (KEY= removes one)", k.Noun),
		Args:  cmdutil.MinimumArgs(k.nArgs(), "one "+k.Noun+" and KEY=VALUE pairs"),
	}
	cmd.RunE = RunE(opts, func(cmd *cobra.Command, args []string) error {
		rest, err := k.setObject(&opts.Scope, &opts.Parent, &opts.Name, args)
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
	cmd.Flags().StringVar(&description, "description", "", "set the "+k.Noun+"'s description")
	return cmd
}

// NewCmdUnset returns `KIND unset`. runF, when not nil, runs instead (for
// tests).
func NewCmdUnset[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *SetOptions) error) *cobra.Command {
	opts := &SetOptions{Scope: NewScope(f)}
	return &cobra.Command{
		Use:   "unset " + k.objectUse() + " KEY...",
		Short: fmt.Sprintf("Remove configuration keys of a %s", k.Noun),
		Args:  cmdutil.MinimumArgs(k.nArgs()+1, "one "+k.Noun+" and at least one key"),
		RunE: RunE(opts, func(_ *cobra.Command, args []string) error {
			rest, err := k.setObject(&opts.Scope, &opts.Parent, &opts.Name, args)
			if err != nil {
				return err
			}
			opts.Config, err = ParseKeys(rest)
			return err
		}, runF, k.set),
	}
}

func (k *Kind[T, Post]) set(ctx context.Context, o *SetOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	err = k.Update(ctx, h, o.Parent, o.Name, func(config *map[string]string, description *string) {
		host.MergeConfig(config, o.Config)
		if o.Description != nil {
			*description = *o.Description
		}
	})
	if err != nil {
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	}
	cmdutil.Success(o.IO, o.Globals, "Updated %s", k.Describe(&o.Scope, o.Parent, o.Name))
	return nil
}

// RenameOptions are the inputs of `KIND rename`.
type RenameOptions struct {
	Scope
	Parent, Name, NewName string
}

// NewCmdRename returns `KIND rename`. runF, when not nil, runs instead
// (for tests).
func NewCmdRename[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *RenameOptions) error) *cobra.Command {
	opts := &RenameOptions{Scope: NewScope(f)}
	return &cobra.Command{
		Use:   "rename " + k.objectUse() + " NEW",
		Short: fmt.Sprintf("Rename a %s", k.Noun),
		Args:  cmdutil.ExactArgs(k.nArgs()+1, "one "+k.Noun+" and its new name"),
		RunE: RunE(opts, func(_ *cobra.Command, args []string) error {
			rest, err := k.setObject(&opts.Scope, &opts.Parent, &opts.Name, args)
			if err != nil {
				return err
			}
			// NEW is a plain name, or one on the same host.
			i := strings.LastIndexByte(rest[0], '/')
			if i >= 0 && rest[0][:i] != opts.Host {
				return cmdutil.FlagErrorf("%q: rename cannot move an object to another host", rest[0])
			}
			opts.NewName = rest[0][i+1:]
			return host.ValidateNewName(k.Noun, opts.NewName)
		}, runF, k.rename),
	}
}

func (k *Kind[T, Post]) rename(ctx context.Context, o *RenameOptions) error {
	c, err := k.open(ctx, &o.Scope, o.Parent)
	if err != nil {
		return err
	}
	if err := c.Rename(ctx, o.Name, o.NewName); err != nil {
		return k.Explain(ctx, &o.Scope, o.Parent, err)
	}
	cmdutil.Success(o.IO, o.Globals, "Renamed %s to %s", k.Describe(&o.Scope, o.Parent, o.Name), o.NewName)
	return nil
}

// DeleteOptions are the inputs of `KIND delete`.
type DeleteOptions struct {
	Scope
	Parent string
	Names  []string
}

// NewCmdDelete returns `KIND delete`. runF, when not nil, runs instead
// (for tests).
func NewCmdDelete[T, Post any](f *cmdutil.Factory, k *Kind[T, Post], runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Scope: NewScope(f)}
	what := "at least one " + k.Noun
	if k.Parent != "" {
		what = fmt.Sprintf("a %s and at least one %s", k.ParentNoun, k.Noun)
	}
	return &cobra.Command{
		Use:   "delete " + k.objectUse() + "...",
		Short: fmt.Sprintf("Delete %ss; a missing one is not an error", k.Noun),
		Long: fmt.Sprintf(`Delete %ss, one after the other. A missing one is not an error; one
still in use is refused, and the error says by what.`, k.Noun),
		Args: cmdutil.MinimumArgs(k.nArgs(), what),
		RunE: RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			opts.Names, _, err = k.SetObjects(&opts.Scope, &opts.Parent, args, len(args)-k.nArgs()+1)
			if err != nil {
				return err
			}
			// Every name is checked before anything is deleted.
			for _, n := range opts.Names {
				if err := host.ValidateName(k.Noun, n); err != nil {
					return err
				}
			}
			return nil
		}, runF, k.delete),
	}
}

func (k *Kind[T, Post]) delete(ctx context.Context, o *DeleteOptions) error {
	c, err := k.open(ctx, &o.Scope, o.Parent)
	if err != nil {
		return err
	}
	errs := make([]error, len(o.Names))
	for i, n := range o.Names {
		if errs[i] = c.Delete(ctx, n); errs[i] == nil {
			cmdutil.Success(o.IO, o.Globals, "Deleted %s", k.Describe(&o.Scope, o.Parent, n))
		}
	}
	return joinErrors(errs)
}
