// Package cluster is `lxkit cluster`: the members of the host's cluster,
// the join tokens of new members, cluster groups, and evacuation.
package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// NewCmdCluster returns `lxkit cluster` and its subcommands.
func NewCmdCluster(f *cmdutil.Factory) *cobra.Command {
	cmd := objects.Group("cluster <command>", "Manage the host's cluster: members, join tokens, groups and evacuation",
		`Manage the cluster the host is a member of. A host that is not clustered is
listed alone, with status Standalone.

"enable" makes a standalone host the first member of a new cluster. "add"
issues a join token for a new member on a member of the cluster; "join" makes
another host, one without instances, a member with that token. "remove" takes
a member out of the cluster.

"evacuate" moves a member's instances to the other members, for maintenance;
"restore" brings them back. Cluster groups are named sets of members that
instances can be placed on ("group").

Every command takes the container path of a nested host before the name:
"cluster list outer/" lists the members of the host inside container outer.`,
		NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdEnable(f, nil), NewCmdAdd(f, nil), NewCmdJoin(f, nil),
		NewCmdRemove(f, nil), NewCmdEvacuate(f, nil), NewCmdRestore(f, nil), NewCmdGroup(f))
	cmd.Example = `  lxkit --host m1 cluster enable m1
  TOKEN=$(lxkit --host m1 cluster add m2)
  lxkit --host m2 cluster join "$TOKEN" --member-config storage-pool/default/source=/dev/sdb
  lxkit cluster evacuate m2
  lxkit cluster restore m2`
	return cmd
}

// NewCmdList returns `lxkit cluster list`. runF, when not nil, runs
// instead (for tests).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *objects.HostOptions) error) *cobra.Command {
	return objects.NewCmdOnHost(f, &cobra.Command{
		Use:   "list [HOST/]",
		Short: "List the cluster's members",
		Long: `List the members of the host's cluster: a table, or with --format json or
yaml the daemon's records. A host that is not clustered is listed alone, with
status Standalone.`,
	}, runF, listRun)
}

func listRun(ctx context.Context, o *objects.HostOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	members, err := h.ClusterMembers(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, members, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "NAME\tURL\tROLES\tSTATUS\tFAILURE DOMAIN\tGROUPS\tMESSAGE")
		for _, m := range members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ServerName, m.URL, strings.Join(m.Roles, ","),
				m.Status, m.FailureDomain, strings.Join(m.Groups, ","), m.Message)
		}
		return tw.Flush()
	})
}

// MemberOptions are the inputs of `cluster show`, `cluster evacuate` and
// `cluster restore`: one member of the cluster.
type MemberOptions struct {
	objects.Scope
	Member string
}

// newCmdMember completes cmd (its Use and Short set) as a command on one
// existing member, "[HOST/]MEMBER".
func newCmdMember(f *cmdutil.Factory, cmd *cobra.Command, runF, run func(context.Context, *MemberOptions) error) *cobra.Command {
	opts := &MemberOptions{Scope: objects.NewScope(f)}
	cmd.Args = cmdutil.ExactArgs(1, "one cluster member")
	cmd.RunE = objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
		if opts.Member, err = opts.SetHost(args[0], true); err != nil {
			return err
		}
		return host.ValidateName("cluster member", opts.Member)
	}, runF, run)
	return cmd
}

// NewCmdShow returns `lxkit cluster show`. runF, when not nil, runs
// instead (for tests).
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	return newCmdMember(f, &cobra.Command{
		Use:   "show [HOST/]MEMBER",
		Short: "Print a cluster member (YAML, or --format json)",
	}, runF, showRun)
}

func showRun(ctx context.Context, o *MemberOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	m, err := h.ClusterMember(ctx, o.Member)
	if err != nil {
		return err
	}
	return cmdutil.Print(o.IO, o.Globals.Format, m, func(w io.Writer) error { return cmdutil.WriteYAML(w, m) })
}

// NewCmdEvacuate returns `lxkit cluster evacuate`. runF, when not nil,
// runs instead (for tests).
func NewCmdEvacuate(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	return newCmdMember(f, &cobra.Command{
		Use:   "evacuate [HOST/]MEMBER",
		Short: "Move a member's instances to the other members, for maintenance",
		Long: `Evacuate a cluster member: its instances move to other members, or stop
where they cannot move (as each one's cluster.evacuate says), and the member
takes no new ones until it is restored. A member evacuated already is no
change.`,
	}, runF, evacuateRun)
}

func evacuateRun(ctx context.Context, o *MemberOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.EvacuateClusterMember(ctx, o.Member); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Evacuated cluster member %s", o.Path(o.Member))
	return nil
}

// NewCmdRestore returns `lxkit cluster restore`. runF, when not nil, runs
// instead (for tests).
func NewCmdRestore(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	return newCmdMember(f, &cobra.Command{
		Use:   "restore [HOST/]MEMBER",
		Short: "Bring an evacuated member back: its instances return and start",
		Long: `Restore an evacuated cluster member: the instances that left it return and
start again, and it takes new ones. A member that is online is no change.`,
	}, runF, restoreRun)
}

func restoreRun(ctx context.Context, o *MemberOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.RestoreClusterMember(ctx, o.Member); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Restored cluster member %s", o.Path(o.Member))
	return nil
}

// EnableOptions are the inputs of `cluster enable`.
type EnableOptions struct {
	objects.Scope
	// Name is the host's name in the new cluster.
	Name string
}

// NewCmdEnable returns `lxkit cluster enable`. runF, when not nil, runs
// instead (for tests).
func NewCmdEnable(f *cmdutil.Factory, runF func(context.Context, *EnableOptions) error) *cobra.Command {
	opts := &EnableOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "enable [HOST/]NAME",
		Short: "Make a standalone host the first member of a new cluster, named NAME there",
		Long: `Make a standalone host the first member of a new cluster, under the name NAME.
The host must listen on one address (core.https_address, not a wildcard such
as :8443), which becomes the cluster's. A host that is already that member is
no change; a member of another name is an error.`,
		Args: cmdutil.ExactArgs(1, "the host's name in the cluster"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.Name, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			return host.ValidateNewName("cluster member", opts.Name)
		}, runF, enableRun),
	}
}

func enableRun(ctx context.Context, o *EnableOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.EnableClustering(ctx, o.Name); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Clustering enabled on %s as %s", h.Addr(), o.Name)
	return nil
}

// AddOptions are the inputs of `cluster add`.
type AddOptions struct {
	objects.Scope
	// Name is the new member's.
	Name string
}

// NewCmdAdd returns `lxkit cluster add`. runF, when not nil, runs instead
// (for tests).
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "add [HOST/]NAME",
		Short: "Issue a join token for a new member NAME (printed on stdout)",
		Long: `Issue a join token for a new cluster member named NAME, on a member of the
cluster. The token is printed on stdout alone, for "cluster join" on the new
member (or lxc cluster join, incus admin init). It is valid once; an unused
token issued earlier for NAME is revoked.`,
		Example: `  TOKEN=$(lxkit --host m1 cluster add m4)
  lxkit --host m4 cluster join "$TOKEN"`,
		Args: cmdutil.ExactArgs(1, "the new member's name"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.Name, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			return host.ValidateNewName("cluster member", opts.Name)
		}, runF, addRun),
	}
}

func addRun(ctx context.Context, o *AddOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	token, err := h.AddClusterMember(ctx, o.Name)
	if err != nil {
		return err
	}
	out := struct {
		ServerName string `json:"server_name"`
		Token      string `json:"token"`
	}{o.Name, token}
	return cmdutil.Print(o.IO, o.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, token)
		return err
	})
}

// JoinOptions are the inputs of `cluster join`.
type JoinOptions struct {
	objects.Scope
	Token string
	// Address is where the new member serves the cluster (--address).
	Address string
	// MemberConfig are the member's own values of the cluster's storage
	// pools and networks (--member-config).
	MemberConfig []api.ClusterMemberConfigKey
}

// NewCmdJoin returns `lxkit cluster join`. runF, when not nil, runs
// instead (for tests).
func NewCmdJoin(f *cmdutil.Factory, runF func(context.Context, *JoinOptions) error) *cobra.Command {
	opts := &JoinOptions{Scope: objects.NewScope(f)}
	var specs []string
	cmd := &cobra.Command{
		Use:   "join [HOST/] TOKEN [--address HOST:PORT] [--member-config ENTITY/NAME/KEY=VALUE]...",
		Short: "Make the host, one without instances, a member of the cluster that issued TOKEN",
		Long: `Make the host a member of the cluster that issued TOKEN ("cluster add"), under
the name the token carries. The host must have no instances. It makes the
cluster's storage pools and networks on itself as it joins.

The cluster's certificate is fetched from an address the token names, and
the host joins only if its fingerprint is the token's.

--address is where the new member serves the cluster; by default its
cluster.https_address or core.https_address, which must then be one address.
--member-config gives the member's own value of a storage pool's or network's
key (a pool's source, say): ENTITY is storage-pool or network.`,
		Example: `  lxkit --host m4 cluster join "$TOKEN" --address 10.0.0.4:8443
  lxkit --host m4 cluster join "$TOKEN" --member-config storage-pool/default/source=/dev/sdb`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cmdutil.FlagErrorf("%s: expected a join token, after an optional nested host HOST/", cmd.CommandPath())
			}
			return nil
		},
	}
	cmd.RunE = objects.RunE(opts, func(cmd *cobra.Command, args []string) (err error) {
		if err := opts.SetHostArg(args[:len(args)-1]); err != nil {
			return err
		}
		opts.Token = args[len(args)-1]
		if _, err := host.ParseJoinToken(opts.Token); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		if cmd.Flags().Changed("address") && opts.Address == "" {
			return cmdutil.FlagErrorf("--address: empty: leave it out for the host's own")
		}
		if opts.MemberConfig, err = parseMemberConfig(specs); err != nil {
			return &cmdutil.FlagError{Err: fmt.Errorf("--member-config: %w", err)}
		}
		return nil
	}, runF, joinRun)
	cmd.Flags().StringVar(&opts.Address, "address", "", "address the new member serves the cluster on, HOST[:PORT]")
	cmd.Flags().StringArrayVar(&specs, "member-config", nil, "the member's own value of a pool's or network's key, ENTITY/NAME/KEY=VALUE; repeatable")
	return cmd
}

// memberConfigEntities are the ENTITY of --member-config.
var memberConfigEntities = []string{"storage-pool", "network"}

// parseMemberConfig reads --member-config values, ENTITY/NAME/KEY=VALUE,
// in order. A key given twice is an error.
func parseMemberConfig(specs []string) ([]api.ClusterMemberConfigKey, error) {
	var out []api.ClusterMemberConfigKey
	seen := map[string]bool{}
	for _, spec := range specs {
		what, value, ok := strings.Cut(spec, "=")
		parts := strings.Split(what, "/")
		if !ok || value == "" || len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("%q: expected ENTITY/NAME/KEY=VALUE", spec)
		}
		if parts[0] != memberConfigEntities[0] && parts[0] != memberConfigEntities[1] {
			return nil, fmt.Errorf("%q: entity %q: use %s", spec, parts[0], strings.Join(memberConfigEntities, " or "))
		}
		if seen[what] {
			return nil, fmt.Errorf("%q: %s given twice", spec, what)
		}
		seen[what] = true
		out = append(out, api.ClusterMemberConfigKey{Entity: parts[0], Name: parts[1], Key: parts[2], Value: value})
	}
	return out, nil
}

func joinRun(ctx context.Context, o *JoinOptions) error {
	tok, err := host.ParseJoinToken(o.Token)
	if err != nil {
		return err
	}
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	cert, err := client.ClusterCertificate(ctx, tok)
	if err != nil {
		return err
	}
	err = h.JoinCluster(ctx, o.Token, host.JoinOptions{Address: o.Address, ClusterCertificate: cert, MemberConfig: o.MemberConfig})
	if err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "%s joined the cluster at %s as %s", h.Addr(), tok.Addresses[0], tok.ServerName)
	return nil
}

// RemoveOptions are the inputs of `cluster remove`.
type RemoveOptions struct {
	objects.Scope
	Member string
	Force  bool
}

// NewCmdRemove returns `lxkit cluster remove`. runF, when not nil, runs
// instead (for tests).
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{Scope: objects.NewScope(f)}
	cmd := &cobra.Command{
		Use:   "remove [HOST/]MEMBER [--force]",
		Short: "Remove a member from the cluster; a missing one is not an error",
		Long: `Remove a member from the cluster. A member that is gone already is not an
error. --force removes a member that cannot be reached, or that still has
instances: those are lost.`,
		Args: cmdutil.ExactArgs(1, "one cluster member"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.Member, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			return host.ValidateName("cluster member", opts.Member)
		}, runF, removeRun),
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "remove a member that is unreachable or has instances (they are lost)")
	return cmd
}

func removeRun(ctx context.Context, o *RemoveOptions) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	if err := h.RemoveClusterMember(ctx, o.Member, o.Force); err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Removed cluster member %s", o.Path(o.Member))
	return nil
}
