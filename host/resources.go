package host

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Profiles are the host's profiles.
func (h *Host) Profiles() *Collection[api.Profile, api.ProfilePut, api.ProfilesPost] {
	return &Collection[api.Profile, api.ProfilePut, api.ProfilesPost]{
		h: h, kind: "profile", path: "/1.0/profiles",
		name:   func(p *api.ProfilesPost) string { return p.Name },
		put:    func(p *api.Profile) *api.ProfilePut { return &p.ProfilePut },
		usedBy: func(p *api.Profile) []string { return p.UsedBy },
	}
}

// Projects are the host's projects.
func (h *Host) Projects() *Collection[api.Project, api.ProjectPut, api.ProjectsPost] {
	return &Collection[api.Project, api.ProjectPut, api.ProjectsPost]{
		h: h, kind: "project", path: "/1.0/projects",
		name:   func(p *api.ProjectsPost) string { return p.Name },
		put:    func(p *api.Project) *api.ProjectPut { return &p.ProjectPut },
		usedBy: func(p *api.Project) []string { return p.UsedBy },
	}
}

// StoragePools are the host's storage pools.
func (h *Host) StoragePools() *Collection[api.StoragePool, api.StoragePoolPut, api.StoragePoolsPost] {
	return &Collection[api.StoragePool, api.StoragePoolPut, api.StoragePoolsPost]{
		h: h, kind: "storage pool", path: "/1.0/storage-pools",
		name:      func(p *api.StoragePoolsPost) string { return p.Name },
		put:       func(p *api.StoragePool) *api.StoragePoolPut { return &p.StoragePoolPut },
		usedBy:    func(p *api.StoragePool) []string { return p.UsedBy },
		onCluster: poolsOnCluster(),
	}
}

// StoragePoolResources returns the space and inodes a storage pool uses
// and has (see api.StoragePoolResources for what a dir pool reports).
func (h *Host) StoragePoolResources(ctx context.Context, pool string) (*api.StoragePoolResources, error) {
	if err := ValidateName("storage pool", pool); err != nil {
		return nil, err
	}
	var r api.StoragePoolResources
	if _, err := h.c.Query(ctx, http.MethodGet, "/1.0/storage-pools/"+url.PathEscape(pool)+"/resources", nil, &r); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errdefs.Wrap(errdefs.ErrNotFound, nil, "storage pool %s not found on %s", pool, h.c.Addr())
		}
		return nil, err
	}
	return &r, nil
}

// Volumes are the custom volumes of a storage pool.
func (h *Host) Volumes(pool string) *Collection[api.StorageVolume, api.StorageVolumePut, api.StorageVolumesPost] {
	return &Collection[api.StorageVolume, api.StorageVolumePut, api.StorageVolumesPost]{
		h: h, kind: "volume", path: "/1.0/storage-pools/" + url.PathEscape(pool) + "/volumes/custom",
		name: func(p *api.StorageVolumesPost) string {
			if p.Type == "" {
				p.Type = "custom"
			}
			return p.Name
		},
		put:    func(v *api.StorageVolume) *api.StorageVolumePut { return &v.StorageVolumePut },
		usedBy: func(v *api.StorageVolume) []string { return v.UsedBy },
		ok:     func(string) error { return ValidateName("storage pool", pool) },
	}
}

// Networks are the host's networks.
func (h *Host) Networks() *Collection[api.Network, api.NetworkPut, api.NetworksPost] {
	return &Collection[api.Network, api.NetworkPut, api.NetworksPost]{
		h: h, kind: "network", path: "/1.0/networks",
		name:      func(p *api.NetworksPost) string { return p.Name },
		put:       func(n *api.Network) *api.NetworkPut { return &n.NetworkPut },
		usedBy:    func(n *api.Network) []string { return n.UsedBy },
		onCluster: networksOnCluster(),
		ok: func(name string) error {
			// A network is an interface of the host, whose names have
			// at most 15 bytes.
			if len(name) > 15 {
				return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "invalid network name %q: longer than 15 bytes", name)
			}
			return nil
		},
	}
}

// Snapshots are the snapshots of an instance. Create takes a while on
// big instances: it waits for the daemon's operation.
func (h *Host) Snapshots(instance string) *Collection[api.InstanceSnapshot, api.InstanceSnapshotPut, api.InstanceSnapshotsPost] {
	return &Collection[api.InstanceSnapshot, api.InstanceSnapshotPut, api.InstanceSnapshotsPost]{
		h: h, kind: "snapshot", path: hostapi.InstancePath(instance, "snapshots"),
		name: func(p *api.InstanceSnapshotsPost) string { return p.Name },
		put: func(s *api.InstanceSnapshot) *api.InstanceSnapshotPut {
			return &api.InstanceSnapshotPut{ExpiresAt: s.ExpiresAt}
		},
		ok: func(string) error { return ValidateName("instance", instance) },
	}
}

// MergeConfig sets the keys of change in *config, removing those whose
// value is empty; a nil *config is made.
func MergeConfig(config *map[string]string, change map[string]string) {
	if *config == nil {
		*config = map[string]string{}
	}
	for k, v := range change {
		if v == "" {
			delete(*config, k)
		} else {
			(*config)[k] = v
		}
	}
}

// MergeDevices adds or replaces the devices of change in *devices,
// removing those whose map is nil; a nil *devices is made.
func MergeDevices(devices *map[string]map[string]string, change map[string]map[string]string) {
	if *devices == nil {
		*devices = map[string]map[string]string{}
	}
	for k, v := range change {
		if v == nil {
			delete(*devices, k)
		} else {
			(*devices)[k] = v
		}
	}
}
