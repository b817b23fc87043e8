package objects

import (
	"context"
	"errors"
	"fmt"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// Collection is what the verbs use of a host.Collection (whatever its Put
// type).
type Collection[T, Post any] interface {
	List(ctx context.Context) ([]T, error)
	Get(ctx context.Context, name string) (*T, error)
	Exists(ctx context.Context, name string) (bool, error)
	Make(ctx context.Context, post Post) (made bool, err error)
	Delete(ctx context.Context, name string) error
	Rename(ctx context.Context, name, newName string) error
}

// Kind describes a kind of host object for the generic verbs: T is what
// the daemon returns, Post what create sends.
type Kind[T, Post any] struct {
	Noun string // "profile", in help and messages
	Arg  string // "PROFILE", in usage lines
	// Parent is the argument the objects belong to ("POOL"), ParentNoun
	// its noun; empty for objects of the host itself. ValidParent checks
	// its name.
	Parent, ParentNoun string
	ValidParent        func(name string) error

	Open func(h *host.Host, parent string) Collection[T, Post]
	// OnMember, for kinds a cluster places on a member, opens the
	// collection on one member: create takes --target MEMBER.
	OnMember func(h *host.Host, parent, member string) Collection[T, Post]
	Name     func(*T) *string
	// Header and Row are the columns of list after NAME, tab-separated.
	Header string
	Row    func(*T) string

	// Post makes what create sends; nil for kinds made otherwise
	// (snapshots). TypeArg, when set, is a positional argument of create
	// after the name that goes to CreateOptions.Type ("DRIVER");
	// CreateFlags adds the kind's own flags and returns what reads them,
	// after the arguments.
	Post        func(o *CreateOptions) Post
	TypeArg     string
	CreateFlags func(cmd *cobra.Command, o *CreateOptions) (parse func() error)
	// Update applies change to an object's configuration and
	// description; nil for kinds without set and unset.
	Update func(ctx context.Context, h *host.Host, parent, name string, change func(config *map[string]string, description *string)) error
	// GetParent reads the parent, for a clear error when it is missing.
	GetParent func(ctx context.Context, s *Scope, parent string) error
	// NoRename is set for kinds the daemons cannot rename.
	NoRename bool
	// Editable, for kinds with an edit verb, opens the collection as edit
	// reads and writes it (EditableOf).
	Editable func(h *host.Host, parent string) Editable
}

// Commands returns the verbs the kind supports: list, show, create (with
// Post), set and unset (with Update), edit (with Editable), rename
// (unless NoRename) and delete.
func (k *Kind[T, Post]) Commands(f *cmdutil.Factory) []*cobra.Command {
	cmds := []*cobra.Command{NewCmdList(f, k, nil), NewCmdShow(f, k, nil)}
	if k.Post != nil {
		cmds = append(cmds, NewCmdCreate(f, k, nil))
	}
	if k.Update != nil {
		cmds = append(cmds, NewCmdSet(f, k, nil), NewCmdUnset(f, k, nil))
	}
	if k.Editable != nil {
		cmds = append(cmds, NewCmdEdit(f, k, nil))
	}
	if !k.NoRename {
		cmds = append(cmds, NewCmdRename(f, k, nil))
	}
	return append(cmds, NewCmdDelete(f, k, nil))
}

// Explain turns a not-found error into the parent's, when the parent is
// what is missing: "storage pool p not found", not "volume v not found".
func (k *Kind[T, Post]) Explain(ctx context.Context, s *Scope, parent string, err error) error {
	if k.GetParent == nil || !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	if perr := k.GetParent(ctx, s, parent); errors.Is(perr, errdefs.ErrNotFound) {
		return perr
	}
	return err
}

// Describe names an object in messages: "profile outer/web", "volume v1
// of storage pool p".
func (k *Kind[T, Post]) Describe(s *Scope, parent, name string) string {
	if k.Parent != "" {
		return fmt.Sprintf("%s %s of %s %s", k.Noun, name, k.ParentNoun, s.Path(parent))
	}
	return k.Noun + " " + s.Path(name)
}

// SetObjects reads the object arguments ([HOST/]PARENT, then n names)
// into s and *parent, and returns the names and the arguments after them.
func (k *Kind[T, Post]) SetObjects(s *Scope, parent *string, args []string, n int) (names, rest []string, err error) {
	if k.Parent == "" {
		names, err = s.SetNames(args[:n])
		return names, args[n:], err
	}
	if *parent, err = s.SetHost(args[0], true); err != nil {
		return nil, nil, err
	}
	if err := k.ValidParent(*parent); err != nil {
		return nil, nil, err
	}
	return append([]string(nil), args[1:1+n]...), args[1+n:], nil
}

// objectUse is how the usage lines name one object.
func (k *Kind[T, Post]) objectUse() string {
	if k.Parent != "" {
		return "[HOST/]" + k.Parent + " " + k.Arg
	}
	return "[HOST/]" + k.Arg
}

// nArgs is how many arguments name one object.
func (k *Kind[T, Post]) nArgs() int {
	if k.Parent != "" {
		return 2
	}
	return 1
}

// setObject reads the arguments naming one object and returns the rest.
func (k *Kind[T, Post]) setObject(s *Scope, parent, name *string, args []string) ([]string, error) {
	names, rest, err := k.SetObjects(s, parent, args, 1)
	if err != nil {
		return nil, err
	}
	*name = names[0]
	return rest, nil
}

// open returns the collection a command acts on.
func (k *Kind[T, Post]) open(ctx context.Context, s *Scope, parent string) (Collection[T, Post], error) {
	h, err := s.HostAPI(ctx)
	if err != nil {
		return nil, err
	}
	return k.Open(h, parent), nil
}
