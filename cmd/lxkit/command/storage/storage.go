// Package storage is `lxkit storage`: the host's storage pools and their
// custom volumes.
package storage

import (
	"context"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var pools = &objects.Kind[api.StoragePool, api.StoragePoolsPost]{
	Noun: "storage pool", Arg: "POOL",
	Open: func(h *host.Host, _ string) objects.Collection[api.StoragePool, api.StoragePoolsPost] {
		return h.StoragePools()
	},
	OnMember: func(h *host.Host, _, member string) objects.Collection[api.StoragePool, api.StoragePoolsPost] {
		return h.StoragePools().On(member)
	},
	Name:   func(p *api.StoragePool) *string { return &p.Name },
	Header: "DRIVER\tSTATUS\tDESCRIPTION\tUSED BY",
	Row: func(p *api.StoragePool) string {
		return p.Driver + "\t" + p.Status + "\t" + p.Description + "\t" + strconv.Itoa(len(p.UsedBy))
	},
	Post: func(o *objects.CreateOptions) api.StoragePoolsPost {
		return api.StoragePoolsPost{Name: o.Name, Driver: o.Type,
			StoragePoolPut: api.StoragePoolPut{Description: o.Description, Config: o.Config}}
	},
	TypeArg:  "DRIVER",
	NoRename: true, // neither daemon renames pools
	Update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.StoragePools().Update(ctx, name, func(p *api.StoragePoolPut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
	Editable: func(h *host.Host, _ string) objects.Editable { return objects.EditableOf(h.StoragePools()) },
}

var volumes = &objects.Kind[api.StorageVolume, api.StorageVolumesPost]{
	Noun: "volume", Arg: "VOLUME", Parent: "POOL", ParentNoun: "storage pool",
	ValidParent: func(pool string) error { return host.ValidateName("storage pool", pool) },
	Open: func(h *host.Host, pool string) objects.Collection[api.StorageVolume, api.StorageVolumesPost] {
		return h.Volumes(pool)
	},
	OnMember: func(h *host.Host, pool, member string) objects.Collection[api.StorageVolume, api.StorageVolumesPost] {
		return h.Volumes(pool).On(member)
	},
	Name:   func(v *api.StorageVolume) *string { return &v.Name },
	Header: "TYPE\tCONTENT TYPE\tDESCRIPTION\tUSED BY",
	Row: func(v *api.StorageVolume) string {
		return v.Type + "\t" + v.ContentType + "\t" + v.Description + "\t" + strconv.Itoa(len(v.UsedBy))
	},
	Post: func(o *objects.CreateOptions) api.StorageVolumesPost {
		return api.StorageVolumesPost{Name: o.Name,
			StorageVolumePut: api.StorageVolumePut{Description: o.Description, Config: o.Config}}
	},
	Update: func(ctx context.Context, h *host.Host, pool, name string, change func(*map[string]string, *string)) error {
		return h.Volumes(pool).Update(ctx, name, func(p *api.StorageVolumePut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
	Editable: func(h *host.Host, pool string) objects.Editable { return objects.EditableOf(h.Volumes(pool)) },
	GetParent: func(ctx context.Context, s *objects.Scope, pool string) error {
		h, err := s.HostAPI(ctx)
		if err == nil {
			_, err = h.StoragePools().Get(ctx, pool)
		}
		return err
	},
}

// NewCmdStorage returns `lxkit storage` (pools) and `lxkit storage
// volume` (their custom volumes).
func NewCmdStorage(f *cmdutil.Factory) *cobra.Command {
	vol := objects.Group("volume <command>", "Manage the custom volumes of a storage pool",
		`Manage the custom volumes of a storage pool. The pool's name may start with
the container path of a nested host: "storage volume list outer/default".`,
		volumes.Commands(f)...)
	cmd := objects.Group("storage <command>", "Manage storage pools and their volumes",
		`Manage the host's storage pools ("storage create NAME DRIVER [KEY=VALUE...]",
with the dir, btrfs, zfs, lvm, ... driver) and their custom volumes
("storage volume ..."). A pool name may start with the container path of a
nested host.`,
		append(pools.Commands(f), vol)...)
	cmd.Example = `  lxkit storage create fast btrfs size=20GiB
  lxkit storage volume create fast data size=10GiB
  lxkit launch app --image testimage --device data,type=disk,pool=fast,source=data,path=/data`
	return cmd
}
