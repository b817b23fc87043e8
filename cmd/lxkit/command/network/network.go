// Package network is `lxkit network`: the host's networks.
package network

import (
	"context"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var networks = &objects.Kind[api.Network, api.NetworksPost]{
	Noun: "network", Arg: "NETWORK",
	Open: func(h *host.Host, _ string) objects.Collection[api.Network, api.NetworksPost] {
		return h.Networks()
	},
	OnMember: func(h *host.Host, _, member string) objects.Collection[api.Network, api.NetworksPost] {
		return h.Networks().On(member)
	},
	Name:   func(n *api.Network) *string { return &n.Name },
	Header: "TYPE\tMANAGED\tIPV4\tIPV6\tSTATUS\tDESCRIPTION\tUSED BY",
	Row: func(n *api.Network) string {
		return n.Type + "\t" + strconv.FormatBool(n.Managed) + "\t" + n.Config["ipv4.address"] + "\t" +
			n.Config["ipv6.address"] + "\t" + n.Status + "\t" + n.Description + "\t" + strconv.Itoa(len(n.UsedBy))
	},
	Post: func(o *objects.CreateOptions) api.NetworksPost {
		return api.NetworksPost{Name: o.Name, Type: o.Type,
			NetworkPut: api.NetworkPut{Description: o.Description, Config: o.Config}}
	},
	CreateFlags: func(cmd *cobra.Command, o *objects.CreateOptions) func() error {
		cmd.Use += " [--type T]"
		cmd.Flags().StringVar(&o.Type, "type", "bridge", "the network's type: bridge, macvlan, sriov, ovn, physical")
		return func() error { return nil }
	},
	Update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Networks().Update(ctx, name, func(p *api.NetworkPut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
	Editable: func(h *host.Host, _ string) objects.Editable { return objects.EditableOf(h.Networks()) },
}

// NewCmdNetwork returns `lxkit network` and its subcommands.
func NewCmdNetwork(f *cmdutil.Factory) *cobra.Command {
	cmd := objects.Group("network <command>", "Manage networks",
		`Manage the host's networks. A network's name is an interface of the host: at
most 15 bytes. A new bridge gets addresses and NAT unless its configuration
says otherwise (ipv4.address=none, ipv4.nat=false, ...). A network name may
start with the container path of a nested host.`,
		networks.Commands(f)...)
	cmd.Example = `  lxkit network create lab0 ipv4.address=10.99.0.1/24 ipv4.nat=false ipv6.address=none
  lxkit launch app --image testimage --device eth1,type=nic,network=lab0`
	return cmd
}
