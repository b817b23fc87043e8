package cluster

import (
	"context"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var groups = &objects.Kind[api.ClusterGroup, api.ClusterGroupsPost]{
	Noun: "cluster group", Arg: "GROUP",
	Open: func(h *host.Host, _ string) objects.Collection[api.ClusterGroup, api.ClusterGroupsPost] {
		return h.ClusterGroups()
	},
	Name:   func(g *api.ClusterGroup) *string { return &g.Name },
	Header: "DESCRIPTION\tMEMBERS",
	Row:    func(g *api.ClusterGroup) string { return g.Description + "\t" + strings.Join(g.Members, ",") },
	Post: func(o *objects.CreateOptions) api.ClusterGroupsPost {
		return api.ClusterGroupsPost{Name: o.Name, ClusterGroupPut: api.ClusterGroupPut{Description: o.Description}}
	},
	CreateFlags: func(cmd *cobra.Command, o *objects.CreateOptions) func() error {
		// A group has a description and members, no configuration.
		cmd.Use = "create [HOST/]GROUP [--description D]"
		return func() error {
			if len(o.Config) > 0 {
				return cmdutil.FlagErrorf("a cluster group takes no KEY=VALUE configuration, only --description")
			}
			return nil
		}
	},
}

// NewCmdGroup returns `lxkit cluster group` and its subcommands.
func NewCmdGroup(f *cmdutil.Factory) *cobra.Command {
	cmds := append(groups.Commands(f), NewCmdAssign(f, nil))
	cmd := objects.Group("group <command>", "Manage cluster groups: named sets of members to place instances on",
		`Manage the cluster's groups: named sets of members, which instances can be
placed on as @GROUP. Every member is in group default until assigned to
others; "group assign" sets a member's groups.`, cmds...)
	cmd.Example = `  lxkit cluster group create gpu --description "members with a GPU"
  lxkit cluster group assign m2 default,gpu
  lxkit cluster group list`
	return cmd
}

// AssignOptions are the inputs of `cluster group assign`.
type AssignOptions struct {
	objects.Scope
	Member string
	// Groups are the member's groups, exactly, in the order given.
	Groups []string
}

// NewCmdAssign returns `lxkit cluster group assign`. runF, when not nil,
// runs instead (for tests).
func NewCmdAssign(f *cmdutil.Factory, runF func(context.Context, *AssignOptions) error) *cobra.Command {
	opts := &AssignOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "assign [HOST/]MEMBER GROUP[,GROUP...]",
		Short: "Make GROUP, or the groups listed, a member's groups (exactly those)",
		Long: `Make the groups listed a cluster member's groups, exactly: it leaves the
groups not listed, default too unless it is listed.`,
		Args: cmdutil.ExactArgs(2, "a cluster member and its groups, GROUP[,GROUP...]"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.Member, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			if err := host.ValidateName("cluster member", opts.Member); err != nil {
				return err
			}
			opts.Groups, err = parseGroups(args[1])
			return err
		}, runF, assignRun),
	}
}

// parseGroups reads GROUP[,GROUP...]: each group once, none empty.
func parseGroups(arg string) ([]string, error) {
	var out []string
	for _, g := range strings.Split(arg, ",") {
		if g == "" {
			return nil, cmdutil.FlagErrorf("%q: expected GROUP[,GROUP...], with no empty group", arg)
		}
		if err := host.ValidateName("cluster group", g); err != nil {
			return nil, err
		}
		if slices.Contains(out, g) {
			return nil, cmdutil.FlagErrorf("%q: group %s given twice", arg, g)
		}
		out = append(out, g)
	}
	return out, nil
}

func assignRun(ctx context.Context, o *AssignOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.AssignClusterGroups(ctx, o.Member, o.Groups); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Cluster member %s is in groups %s", o.Path(o.Member), strings.Join(o.Groups, ","))
	return nil
}
