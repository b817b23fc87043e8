package host

import (
	"reflect"
	"testing"

	"github.com/lxkit/lxkit/api"
)

// On a cluster a pool's source and size go to each member's pending
// definition, the rest to the pool itself.
func TestClusterSplit(t *testing.T) {
	post := api.StoragePoolsPost{Name: "p", Driver: "btrfs",
		StoragePoolPut: api.StoragePoolPut{Description: "d", Config: map[string]string{"source": "/dev/sdb", "size": "5GiB", "btrfs.mount_options": "noatime"}}}
	member, global := poolsOnCluster().split(post)
	if member.Name != "p" || member.Driver != "btrfs" || member.Description != "" ||
		!reflect.DeepEqual(member.Config, map[string]string{"source": "/dev/sdb", "size": "5GiB"}) {
		t.Errorf("member part: %+v", member)
	}
	if global.Description != "d" || !reflect.DeepEqual(global.Config, map[string]string{"btrfs.mount_options": "noatime"}) {
		t.Errorf("global part: %+v", global)
	}
	if len(post.Config) != 3 {
		t.Errorf("the split changed what was given: %v", post.Config)
	}
	n := api.NetworksPost{Name: "br", Type: "bridge", NetworkPut: api.NetworkPut{Config: map[string]string{"bridge.external_interfaces": "eth1", "ipv4.address": "none"}}}
	nm, ng := networksOnCluster().split(n)
	if !reflect.DeepEqual(nm.Config, map[string]string{"bridge.external_interfaces": "eth1"}) || !reflect.DeepEqual(ng.Config, map[string]string{"ipv4.address": "none"}) {
		t.Errorf("network: member %v, global %v", nm.Config, ng.Config)
	}
}
