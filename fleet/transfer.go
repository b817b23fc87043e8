package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/spec"
)

// CloneTo is Clone into another project of the same host: m works in
// src's project, to in the project dst is made in (each made from a
// driver that works in its project). dst's volumes are copies made in
// to's project, its profiles must exist there, and it is started. A
// project whose features.storage.volumes is false keeps its volumes in
// the default project: there a volume that dst's Spec names as src's
// does (not after the instance) would be src's own, which is refused
// (errdefs.ErrConflict). An existing dst is left as it is.
func (m *Manager) CloneTo(ctx context.Context, to *Manager, src, dst *spec.Spec, snap string) error {
	if to == m {
		return m.Clone(ctx, src, dst, snap)
	}
	if _, err := to.d.Instance(ctx, dst.Name); err == nil {
		return nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	from, err := project(ctx, m.h)
	if err != nil {
		return err
	}
	into, err := project(ctx, to.h)
	if err != nil {
		return err
	}
	if from == into {
		return m.Clone(ctx, src, dst, snap)
	}
	fromVols, err := volumesProject(ctx, m.h, from)
	if err != nil {
		return err
	}
	intoVols, err := volumesProject(ctx, to.h, into)
	if err != nil {
		return err
	}
	for _, name := range sortedVolumes(dst) {
		f, ok := src.Volumes[name]
		t := dst.Volumes[name]
		if !ok {
			continue
		}
		if fromVols == intoVols && f.Pool == t.Pool && f.Volume == t.Volume {
			return errdefs.Wrap(errdefs.ErrConflict, nil,
				"%s: volume %s: projects %s and %s keep their volumes in project %s, where %s's copy would be %s's own volume %s: "+
					"name the volume after the instance (the default, INSTANCE-%s), or give project %s features.storage.volumes=true",
				dst.Name, name, from, into, fromVols, dst.Name, src.Name, f.Volume, name, into)
		}
		source := f.Volume
		if snap != "" {
			source += "/" + snap
		}
		if err := to.h.CopyVolumeFrom(ctx, from, f.Pool, source, t.Pool, t.Volume); err != nil {
			return fmt.Errorf("%s: volume %s: %w", dst.Name, name, err)
		}
	}
	if err := to.volumes(ctx, dst); err != nil { // those src lacks
		return err
	}
	opts := to.createOptions(dst)
	err = m.h.CopyInstanceTo(ctx, m.h, src.Name, dst.Name, host.TransferOptions{
		Project: into,
		CopyInstanceOptions: host.CopyInstanceOptions{
			Snapshot: snap, Config: opts.Config, Devices: opts.Devices, Profiles: opts.Profiles, InstanceOnly: true,
		},
	})
	if err != nil {
		return err
	}
	return to.d.Start(ctx, dst.Name)
}

// project is the project h works in.
func project(ctx context.Context, h *host.Host) (string, error) {
	s, err := h.Server(ctx)
	if err != nil {
		return "", err
	}
	if s.Environment.Project == "" {
		return "default", nil
	}
	return s.Environment.Project, nil
}

// volumesProject is the project whose custom volumes project uses: its
// own with features.storage.volumes, else the default project's.
func volumesProject(ctx context.Context, h *host.Host, project string) (string, error) {
	if project == "default" {
		return project, nil
	}
	p, err := h.Projects().Get(ctx, project)
	if err != nil {
		return "", err
	}
	if p.Config["features.storage.volumes"] == "true" {
		return project, nil
	}
	return "default", nil
}

// Rename gives the instance of old's Spec the name of new's, a Spec of
// the same configuration, with the custom volumes the configuration
// names after the instance (INSTANCE-data by default: web1-data becomes
// web2-data); volumes whose name does not change stay as they are. The
// instance's disk devices are pointed at the new names (each detached
// for its volume's rename: Incus 6.0.4 takes 30 s to rename a volume in
// use). Its snapshots keep the old names in their devices, which
// Rollback corrects. When the instance was as old
// says and the two Specs differ only in names, the instance is recorded
// as made by new (KeyHash); otherwise Plan sees what else differs (a
// ${instance} in a config value, say).
//
// The daemons rename only a stopped instance, and a volume that no
// running instance uses: a running one is refused before anything
// changes (errdefs.ErrPreconditionFailed), with what to do. Rename
// converges: an instance renamed already (old gone, new there) has the
// volumes still named after old renamed, if new uses them (or lacks
// their devices: a rename that stopped half-way), and is otherwise
// success. An instance or volume of the new name beside the
// old one is errdefs.ErrConflict; a volume missing under both names is
// left so.
func (m *Manager) Rename(ctx context.Context, old, new *spec.Spec) error {
	type move struct{ key, pool, from, to string }
	var moves []move
	for _, key := range sortedVolumes(old) {
		o, n := old.Volumes[key], new.Volumes[key]
		switch _, ok := new.Volumes[key]; {
		case !ok || o.Pool == n.Pool && o.Volume == n.Volume:
			continue
		case o.Pool != n.Pool:
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
				"renaming %s to %s: volume %s is in pool %s for one and %s for the other: a rename does not move volumes", old.Name, new.Name, key, o.Pool, n.Pool)
		}
		moves = append(moves, move{key, o.Pool, o.Volume, n.Volume})
	}
	oldInst, err := m.d.Instance(ctx, old.Name)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	newInst, err := m.d.Instance(ctx, new.Name)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	inst := oldInst
	switch {
	case oldInst != nil && newInst != nil:
		return errdefs.Wrap(errdefs.ErrConflict, nil, "renaming %s to %s: instance %s exists already on %s", old.Name, new.Name, new.Name, m.h.Addr())
	case oldInst == nil && newInst == nil:
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "renaming %s to %s: neither instance is on %s", old.Name, new.Name, m.h.Addr())
	case oldInst == nil:
		inst = newInst
	}
	// What is left to rename, checked before anything changes.
	var todo []move
	for _, mv := range moves {
		vols := m.h.Volumes(mv.pool)
		fromThere, err := vols.Exists(ctx, mv.from)
		if err != nil {
			return err
		}
		toThere, err := vols.Exists(ctx, mv.to)
		if err != nil {
			return err
		}
		switch {
		case fromThere && toThere:
			return errdefs.Wrap(errdefs.ErrConflict, nil, "renaming %s to %s: volume %s: both %s and %s exist in pool %s: compare them and delete one",
				old.Name, new.Name, mv.key, mv.from, mv.to, mv.pool)
		case fromThere && oldInst == nil && !mayUse(newInst, mv.key, mv.pool, mv.from):
			return errdefs.Wrap(errdefs.ErrConflict, nil, "renaming %s to %s: instance %s exists already and its device %s is not volume %s (not %s renamed?)",
				old.Name, new.Name, new.Name, mv.key, mv.from, old.Name)
		case fromThere:
			todo = append(todo, mv)
		}
	}
	if (oldInst != nil || len(todo) > 0) && !strings.EqualFold(inst.Status, "Stopped") {
		return errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"renaming %s to %s: %s is %s, and the daemons rename only stopped instances and volumes no running instance uses: "+
				"stop it (lxkit stop %s), rename it, then start it (lxkit start %[2]s)",
			old.Name, new.Name, inst.Name, strings.ToLower(inst.Status), inst.Name)
	}
	if oldInst != nil {
		if err := m.h.RenameInstance(ctx, old.Name, new.Name); err != nil {
			return err
		}
	}
	// Each volume is detached, renamed and attached again under its new
	// name: Incus 6.0.4 takes 30 s to rename a volume an instance uses
	// (hostapi.VolumeRenameInUse; LXD 5.0.2 a moment).
	for _, mv := range todo {
		cur, err := m.d.Instance(ctx, new.Name)
		if err != nil {
			return err
		}
		if dev := cur.Devices[mv.key]; dev != nil && isVolume(dev, mv.pool, mv.from) {
			if err := m.d.Update(ctx, new.Name, driver.UpdateOptions{Devices: map[string]map[string]string{mv.key: nil}}); err != nil {
				return fmt.Errorf("renaming %s to %s: detaching volume %s: %w", old.Name, new.Name, mv.from, err)
			}
		}
		if err := m.h.Volumes(mv.pool).Rename(ctx, mv.from, mv.to); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", old.Name, new.Name, err)
		}
	}
	cur, err := m.d.Instance(ctx, new.Name)
	if err != nil {
		return err
	}
	upd := driver.UpdateOptions{Config: map[string]string{}, Devices: map[string]map[string]string{}}
	for _, mv := range moves {
		if mayUse(cur, mv.key, mv.pool, mv.from) && !isVolume(cur.Devices[mv.key], mv.pool, mv.to) {
			upd.Devices[mv.key] = volumeDevice(new.Volumes[mv.key])
		}
	}
	if cur.Config[KeyHash] == Hash(old) && sameButNames(old, new) {
		upd.Config[KeyHash] = Hash(new)
	}
	if len(upd.Config) == 0 && len(upd.Devices) == 0 {
		return nil
	}
	return m.d.Update(ctx, new.Name, upd)
}

// isVolume reports whether a device is a disk of the custom volume.
func isVolume(dev map[string]string, pool, volume string) bool {
	return dev["type"] == "disk" && dev["pool"] == pool && dev["source"] == volume
}

// mayUse reports whether inst's device key is the volume, or missing (a
// rename detached it and stopped).
func mayUse(inst *api.Instance, key, pool, volume string) bool {
	dev, ok := inst.Devices[key]
	return !ok || isVolume(dev, pool, volume)
}

// sameButNames reports whether two Specs differ only in the instance's
// name and its volumes' names.
func sameButNames(a, b *spec.Spec) bool {
	strip := func(s *spec.Spec) *spec.Spec {
		c := *s
		c.Name = ""
		c.Volumes = map[string]spec.Volume{}
		for k, v := range s.Volumes {
			v.Volume = ""
			c.Volumes[k] = v
		}
		return &c
	}
	return Hash(strip(a)) == Hash(strip(b))
}

// repointVolumes points the instance's disk devices of the Spec's
// volumes at the volumes the Spec names, where they name others of the
// same pool (as a snapshot taken before a Rename brings back).
func (m *Manager) repointVolumes(ctx context.Context, s *spec.Spec) error {
	inst, err := m.d.Instance(ctx, s.Name)
	if err != nil {
		return err
	}
	upd := map[string]map[string]string{}
	for key, v := range s.Volumes {
		if dev := inst.Devices[key]; dev["type"] == "disk" && dev["pool"] == v.Pool && dev["source"] != "" && dev["source"] != v.Volume {
			dev = maps.Clone(dev)
			dev["source"] = v.Volume
			upd[key] = dev
		}
	}
	if len(upd) == 0 {
		return nil
	}
	return m.d.Update(ctx, s.Name, driver.UpdateOptions{Devices: upd})
}
