package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// VolumeSnapshots are the snapshots of a custom volume.
func (h *Host) VolumeSnapshots(pool, volume string) *Collection[api.StorageVolume, api.StorageVolumePut, api.InstanceSnapshotsPost] {
	return &Collection[api.StorageVolume, api.StorageVolumePut, api.InstanceSnapshotsPost]{
		h: h, kind: "volume snapshot",
		path: "/1.0/storage-pools/" + url.PathEscape(pool) + "/volumes/custom/" + url.PathEscape(volume) + "/snapshots",
		name: func(p *api.InstanceSnapshotsPost) string { return p.Name },
		put:  func(v *api.StorageVolume) *api.StorageVolumePut { return &v.StorageVolumePut },
		ok: func(string) error {
			if err := ValidateName("storage pool", pool); err != nil {
				return err
			}
			return ValidateName("volume", volume)
		},
	}
}

// RestoreVolumeSnapshot brings a custom volume back to one of its
// snapshots. A volume attached to a running instance may be refused by
// the daemon: stop the instance first.
func (h *Host) RestoreVolumeSnapshot(ctx context.Context, pool, volume, snapshot string) error {
	if _, err := h.VolumeSnapshots(pool, volume).Get(ctx, snapshot); err != nil {
		return err
	}
	path := "/1.0/storage-pools/" + url.PathEscape(pool) + "/volumes/custom/" + url.PathEscape(volume)
	if _, err := h.c.Do(ctx, http.MethodPut, path, map[string]string{"restore": snapshot}, ""); err != nil {
		return fmt.Errorf("restoring volume %s to snapshot %s: %w", volume, snapshot, err)
	}
	return nil
}

// CopyVolume copies a custom volume (or one of its snapshots, "vol/snap")
// to a new volume in the same or another pool of the host. A destination
// that exists already is left as it is.
func (h *Host) CopyVolume(ctx context.Context, pool, source, dstPool, dst string) error {
	return h.CopyVolumeFrom(ctx, "", pool, source, dstPool, dst)
}

// CopyVolumeFrom is CopyVolume from another project of the host: source
// is a volume (or "vol/snap") of project (empty: the one h works in), dst
// is made in the project h works in. A project whose
// features.storage.volumes is false keeps its volumes in the default
// project.
func (h *Host) CopyVolumeFrom(ctx context.Context, project, pool, source, dstPool, dst string) error {
	if project != "" {
		if err := ValidateName("project", project); err != nil {
			return err
		}
	}
	vols := h.Volumes(dstPool)
	if err := vols.checkNew(dst); err != nil {
		return err
	}
	if ok, err := vols.Exists(ctx, dst); err != nil || ok {
		return err
	}
	from := map[string]any{"type": "copy", "name": source, "pool": pool}
	if project != "" {
		from["project"] = project
	}
	body := map[string]any{"name": dst, "type": "custom", "source": from}
	if _, err := h.c.Do(ctx, http.MethodPost, vols.path, body, ""); err != nil {
		if ok, _ := vols.Exists(ctx, dst); ok && !errors.Is(err, errdefs.ErrNotFound) {
			return nil // made meanwhile
		}
		return fmt.Errorf("copying volume %s to %s: %w", source, dst, err)
	}
	return nil
}

// CopyInstanceOptions says how to copy an instance.
type CopyInstanceOptions struct {
	// Snapshot copies that snapshot of the source rather than its
	// current state.
	Snapshot string
	// Config and Devices are merged into the copy's own (see
	// MergeConfig and MergeDevices); Profiles replaces its profiles
	// when not nil.
	Config   map[string]string
	Devices  map[string]map[string]string
	Profiles []string
	// InstanceOnly leaves the source's snapshots behind.
	InstanceOnly bool
	// Target puts the copy on that cluster member (or "@GROUP"); empty
	// leaves the choice to the daemon.
	Target string
}

// CopyInstance copies an instance (stopped, or at a snapshot) to a new,
// stopped one on the same host. A destination that exists already is
// left as it is.
func (h *Host) CopyInstance(ctx context.Context, source, dst string, opts CopyInstanceOptions) error {
	return h.CopyInstanceTo(ctx, h, source, dst, TransferOptions{CopyInstanceOptions: opts})
}
