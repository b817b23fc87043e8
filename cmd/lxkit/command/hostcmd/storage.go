package hostcmd

import (
	"context"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var pools = &kind[api.StoragePool, api.StoragePoolsPost]{
	noun: "storage pool", arg: "POOL",
	coll: func(h *host.Host, _ string) collection[api.StoragePool, api.StoragePoolsPost] {
		return h.StoragePools()
	},
	name:   func(p *api.StoragePool) *string { return &p.Name },
	header: "DRIVER\tSTATUS\tDESCRIPTION\tUSED BY",
	row: func(p *api.StoragePool) string {
		return p.Driver + "\t" + p.Status + "\t" + p.Description + "\t" + strconv.Itoa(len(p.UsedBy))
	},
	post: func(o *Options) api.StoragePoolsPost {
		return api.StoragePoolsPost{Name: o.Names[0], Driver: o.Type,
			StoragePoolPut: api.StoragePoolPut{Description: deref(o.Description), Config: o.Config}}
	},
	typeArg:  "DRIVER",
	noRename: true, // neither daemon renames pools
	update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.StoragePools().Update(ctx, name, func(p *api.StoragePoolPut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
}

var volumes = &kind[api.StorageVolume, api.StorageVolumesPost]{
	noun: "volume", arg: "VOLUME", parent: "POOL", parentNoun: "storage pool",
	validParent: func(pool string) error { return host.ValidateName("storage pool", pool) },
	coll: func(h *host.Host, pool string) collection[api.StorageVolume, api.StorageVolumesPost] {
		return h.Volumes(pool)
	},
	name:   func(v *api.StorageVolume) *string { return &v.Name },
	header: "TYPE\tCONTENT TYPE\tDESCRIPTION\tUSED BY",
	row: func(v *api.StorageVolume) string {
		return v.Type + "\t" + v.ContentType + "\t" + v.Description + "\t" + strconv.Itoa(len(v.UsedBy))
	},
	post: func(o *Options) api.StorageVolumesPost {
		return api.StorageVolumesPost{Name: o.Names[0],
			StorageVolumePut: api.StorageVolumePut{Description: deref(o.Description), Config: o.Config}}
	},
	update: func(ctx context.Context, h *host.Host, pool, name string, change func(*map[string]string, *string)) error {
		return h.Volumes(pool).Update(ctx, name, func(p *api.StorageVolumePut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
	getParent: func(ctx context.Context, o *Options) error {
		h, err := o.host(ctx)
		if err == nil {
			_, err = h.StoragePools().Get(ctx, o.Parent)
		}
		return err
	},
}

// NewCmdStorage returns `lxkit storage` (pools) and `lxkit storage
// volume` (their custom volumes). runF, when not nil, runs instead of each
// subcommand (for tests).
func NewCmdStorage(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	vol := group("volume <command>", "Manage the custom volumes of a storage pool",
		`Manage the custom volumes of a storage pool. The pool's name may start with
the container path of a nested host: "storage volume list outer/default".`,
		volumes.commands(f, runF)...)
	cmd := group("storage <command>", "Manage storage pools and their volumes",
		`Manage the host's storage pools ("storage create NAME DRIVER [KEY=VALUE...]",
with the dir, btrfs, zfs, lvm, ... driver) and their custom volumes
("storage volume ..."). A pool name may start with the container path of a
nested host.`,
		append(pools.commands(f, runF), vol)...)
	cmd.Example = `  lxkit storage create fast btrfs size=20GiB
  lxkit storage volume create fast data size=10GiB
  lxkit launch app --image testimage --device data,type=disk,pool=fast,source=data,path=/data`
	return cmd
}
