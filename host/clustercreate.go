package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// clusterCreate says how a storage pool or a network is made on a
// cluster: the daemons want a pending definition on every member first,
// with the member's own keys, then the object itself with the rest.
type clusterCreate[T, Post any] struct {
	// status is the object's status: "Pending" until it is made.
	status func(*T) string
	// split divides what create sends into a member's part (name, driver
	// or type, and memberKeys) and the cluster-wide rest.
	split func(Post) (member, global Post)
}

// Member-specific configuration keys, as LXD 5.0.2 and Incus 6.0.4 define
// them: they go in each member's pending definition, not in the global one.
var (
	poolMemberKeys    = []string{"source", "size", "zfs.pool_name", "lvm.thinpool_name", "lvm.vg_name"}
	networkMemberKeys = []string{"bridge.external_interfaces", "parent", "bgp.ipv4.nexthop", "bgp.ipv6.nexthop"}
)

// splitConfig returns the keys of config that are in memberKeys, and the rest.
func splitConfig(config map[string]string, memberKeys []string) (member, global map[string]string) {
	member, global = map[string]string{}, map[string]string{}
	for k, v := range config {
		if slices.Contains(memberKeys, k) {
			member[k] = v
		} else {
			global[k] = v
		}
	}
	return member, global
}

func poolsOnCluster() *clusterCreate[api.StoragePool, api.StoragePoolsPost] {
	return &clusterCreate[api.StoragePool, api.StoragePoolsPost]{
		status: func(p *api.StoragePool) string { return p.Status },
		split: splitBy(poolMemberKeys, func(p *api.StoragePoolsPost) (*map[string]string, *string) {
			return &p.Config, &p.Description
		}),
	}
}

func networksOnCluster() *clusterCreate[api.Network, api.NetworksPost] {
	return &clusterCreate[api.Network, api.NetworksPost]{
		status: func(n *api.Network) string { return n.Status },
		split: splitBy(networkMemberKeys, func(n *api.NetworksPost) (*map[string]string, *string) {
			return &n.Config, &n.Description
		}),
	}
}

// splitBy returns a clusterCreate.split for a Post whose configuration
// and description fields are reached through fields: a member's part
// has memberKeys and no description.
func splitBy[Post any](memberKeys []string, fields func(*Post) (*map[string]string, *string)) func(Post) (Post, Post) {
	return func(p Post) (member, global Post) {
		member, global = p, p
		mc, md := fields(&member)
		gc, _ := fields(&global)
		*mc, *gc = splitConfig(*mc, memberKeys)
		*md = ""
		return member, global
	}
}

// makeOnCluster makes a storage pool or network on a cluster: a pending
// definition on each member that has none (the member-specific keys of
// post's configuration, the same on each; give members their own with
// On(member) first), then the object. One that is made already is left
// as it is.
func (c *Collection[T, Put, Post]) makeOnCluster(ctx context.Context, name string, post Post) (bool, error) {
	cur, err := c.Get(ctx, name)
	switch {
	case err == nil && c.onCluster.status(cur) != "Pending":
		return false, c.awaitMaking(ctx, name)
	case err != nil && !errors.Is(err, errdefs.ErrNotFound):
		return false, err
	}
	members, err := c.h.ClusterMembers(ctx)
	if err != nil {
		return false, err
	}
	member, global := c.onCluster.split(post)
	for _, m := range members {
		_, err := c.h.c.Do(ctx, http.MethodPost, hostapi.WithTarget(c.path, m.ServerName), member, "")
		if err != nil && !hostapi.DefinedOnMember.In(err) {
			return false, fmt.Errorf("creating %s %s: its definition on member %s: %w", c.kind, name, m.ServerName, err)
		}
	}
	if _, err := c.h.c.Do(ctx, http.MethodPost, c.path, global, ""); err != nil {
		return false, fmt.Errorf("creating %s %s on the cluster: %w", c.kind, name, err)
	}
	return true, nil
}

// clustered reports whether the host is a cluster member.
func (h *Host) clustered(ctx context.Context) (bool, error) {
	c, err := h.Cluster(ctx)
	if err != nil {
		return false, err
	}
	return c.Enabled, nil
}
