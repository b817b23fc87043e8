package hostcmd

import (
	"context"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var networks = &kind[api.Network, api.NetworksPost]{
	noun: "network", arg: "NETWORK",
	coll:   func(h *host.Host, _ string) collection[api.Network, api.NetworksPost] { return h.Networks() },
	name:   func(n *api.Network) *string { return &n.Name },
	header: "TYPE\tMANAGED\tIPV4\tIPV6\tSTATUS\tDESCRIPTION\tUSED BY",
	row: func(n *api.Network) string {
		return n.Type + "\t" + strconv.FormatBool(n.Managed) + "\t" + n.Config["ipv4.address"] + "\t" +
			n.Config["ipv6.address"] + "\t" + n.Status + "\t" + n.Description + "\t" + strconv.Itoa(len(n.UsedBy))
	},
	post: func(o *Options) api.NetworksPost {
		return api.NetworksPost{Name: o.Names[0], Type: o.Type,
			NetworkPut: api.NetworkPut{Description: deref(o.Description), Config: o.Config}}
	},
	createFlags: func(cmd *cobra.Command, o *Options) func() error {
		cmd.Use += " [--type T]"
		cmd.Flags().StringVar(&o.Type, "type", "bridge", "the network's type: bridge, macvlan, sriov, ovn, physical")
		return func() error { return nil }
	},
	update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Networks().Update(ctx, name, func(p *api.NetworkPut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
}

// NewCmdNetwork returns `lxkit network` and its subcommands. runF, when
// not nil, runs instead of each subcommand (for tests).
func NewCmdNetwork(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmd := group("network <command>", "Manage networks",
		`Manage the host's networks. A network's name is an interface of the host: at
most 15 bytes. A new bridge gets addresses and NAT unless its configuration
says otherwise (ipv4.address=none, ipv4.nat=false, ...). A network name may
start with the container path of a nested host.`,
		networks.commands(f, runF)...)
	cmd.Example = `  lxkit network create lab0 ipv4.address=10.99.0.1/24 ipv4.nat=false ipv6.address=none
  lxkit launch app --image testimage --device eth1,type=nic,network=lab0`
	return cmd
}
