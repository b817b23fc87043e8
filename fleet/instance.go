// Package fleet makes containers as their declarative configurations
// (package spec) say, and keeps them so: launch, rebuild (keeping the
// data in their volumes), delete, snapshot, rollback and clone one
// instance, or plan and apply the changes a whole fleet needs.
//
// It works through any driver.Driver, so also on nested hosts.
package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/spec"
	"github.com/lxkit/lxkit/transport"
)

// Keys that fleet keeps in an instance's configuration.
const (
	// KeyConfig is the configuration file the instance was made from.
	KeyConfig = "user.lxkit.config"
	// KeyHash is the hash of the Spec it was last made or updated to.
	KeyHash = "user.lxkit.hash"
	// KeyFleet names the fleet an instance belongs to.
	KeyFleet = "user.lxkit.fleet"
	// KeyKeys and KeyDevices list the config keys and devices the Spec
	// set, so that an update removes those a newer Spec drops.
	KeyKeys    = "user.lxkit.keys"
	KeyDevices = "user.lxkit.devices"
	// KeyOrigin is the template snapshot (spec.Spec.Origin) the
	// instance's root was copied from; absent for one made from an image.
	KeyOrigin = "user.lxkit.origin"
)

// Manager makes and keeps instances on one host.
type Manager struct {
	d driver.Driver
	h *host.Host
	// CloudConfig reads an instance's cloud-config files, applied after
	// it is launched or rebuilt (New sets CloudConfig); nil refuses specs
	// that name any.
	CloudConfig CloudConfigFunc
	// Out receives what cloud-config commands print; nil discards it.
	Out io.Writer
	// Fleet, if set, is recorded in the instances made (KeyFleet).
	Fleet string
}

// New returns a manager of d's host.
func New(d driver.Driver) *Manager {
	return &Manager{d: d, h: host.New(d.API()), CloudConfig: CloudConfig}
}

// Hash is the hash of what a Spec asks for (not of where it was read).
func Hash(s *spec.Spec) string {
	c := *s
	c.Files = nil
	c.Properties = nil
	data, _ := json.Marshal(c) // map keys come out sorted
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// createOptions are the driver's options for a Spec, volumes as disks.
func (m *Manager) createOptions(s *spec.Spec) driver.CreateOptions { return createOptions(s, m.Fleet) }

// createOptions makes an instance of s, of the named fleet (none: "").
func createOptions(s *spec.Spec, fleet string) driver.CreateOptions {
	devices := map[string]map[string]string{}
	for k, v := range s.Devices {
		devices[k] = v
	}
	for name, v := range s.Volumes {
		devices[name] = volumeDevice(v)
	}
	config := map[string]string{}
	for k, v := range s.Config {
		config[k] = v
	}
	config[KeyKeys] = strings.Join(slices.Sorted(maps.Keys(s.Config)), ",")
	config[KeyDevices] = strings.Join(slices.Sorted(maps.Keys(devices)), ",")
	config[KeyHash] = Hash(s)
	if len(s.Files) > 0 {
		config[KeyConfig] = s.Files[0]
	}
	if fleet != "" {
		config[KeyFleet] = fleet
	}
	opts := driver.CreateOptions{
		Image:    DriverImage(s.Image),
		Profiles: s.Profiles,
		Config:   config,
		Devices:  devices,
	}
	if s.Origin != "" {
		config[KeyOrigin] = s.Origin
		opts.Image, opts.Source = driver.Image{}, s.Origin
	}
	return opts
}

// DriverImage is a configuration's image as drivers take it.
func DriverImage(img spec.Image) driver.Image {
	return driver.Image{Alias: img.Alias, Fingerprint: img.Fingerprint, Server: img.Server, Protocol: img.Protocol, Certificate: img.Certificate}
}

func volumeDevice(v spec.Volume) map[string]string {
	dev := map[string]string{"type": "disk", "pool": v.Pool, "source": v.Volume, "path": v.Path}
	for k, val := range v.Device {
		dev[k] = val
	}
	return dev
}

// volumes makes the Spec's volumes that are missing; existing ones are
// used as they are.
func (m *Manager) volumes(ctx context.Context, s *spec.Spec) error {
	for _, name := range sortedVolumes(s) {
		v := s.Volumes[name]
		if ok, err := m.h.StoragePools().Exists(ctx, v.Pool); err != nil {
			return err
		} else if !ok {
			return errdefs.Wrap(errdefs.ErrNotFound, nil, "%s: volume %s: storage pool %s not found on %s", s.Name, name, v.Pool, m.h.Addr())
		}
		if v.Origin != "" {
			if err := m.copyVolume(ctx, s, name); err != nil {
				return fmt.Errorf("%s: volume %s: %w", s.Name, name, err)
			}
			continue
		}
		post := api.StorageVolumesPost{Name: v.Volume, Type: "custom", StorageVolumePut: api.StorageVolumePut{Config: v.Config}}
		if err := m.h.Volumes(v.Pool).Create(ctx, post); err != nil {
			return fmt.Errorf("%s: volume %s: %w", s.Name, name, err)
		}
	}
	return nil
}

// copyVolume makes the volume of s's device name, if missing, a copy of
// its origin: the custom volume of the template's disk device of the same
// name (at the volume snapshot the origin names, if any). The copy has the
// template volume's configuration, not the Spec's.
func (m *Manager) copyVolume(ctx context.Context, s *spec.Spec, name string) error {
	v := s.Volumes[name]
	if ok, err := m.h.Volumes(v.Pool).Exists(ctx, v.Volume); err != nil || ok {
		return err
	}
	tpl, snap, _ := strings.Cut(v.Origin, "/")
	inst, err := m.d.Instance(ctx, tpl)
	if err != nil {
		return fmt.Errorf("origin %s: %w", v.Origin, err)
	}
	dev := inst.Devices[name]
	if dev["type"] != "disk" || dev["pool"] == "" || dev["source"] == "" || strings.HasPrefix(dev["source"], "/") {
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "origin %s: %s has no device %s that holds a custom volume", v.Origin, tpl, name)
	}
	source := dev["source"]
	if snap != "" {
		source += "/" + snap
		if _, err := m.h.VolumeSnapshots(dev["pool"], dev["source"]).Get(ctx, snap); err != nil {
			return fmt.Errorf("origin %s: volume %s: %w", v.Origin, dev["source"], err)
		}
	}
	return m.h.CopyVolume(ctx, dev["pool"], source, v.Pool, v.Volume)
}

// checkOrigin makes sure that the template snapshot a Spec's root is
// copied from exists, before a rebuild deletes the instance.
func (m *Manager) checkOrigin(ctx context.Context, s *spec.Spec) error {
	if s.Origin == "" {
		return nil
	}
	tpl, snap, _ := strings.Cut(s.Origin, "/")
	if _, err := m.h.Snapshots(tpl).Get(ctx, snap); err != nil {
		return fmt.Errorf("%s: origin %s: %w", s.Name, s.Origin, err)
	}
	return nil
}

func sortedVolumes(s *spec.Spec) []string {
	names := make([]string, 0, len(s.Volumes))
	for n := range s.Volumes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Launch makes the instance a Spec describes, with its volumes, starts
// it and applies its cloud-config files. An instance that exists already
// is left as it is (see Rebuild and Plan); its missing volumes are not
// made either. Launches of the same instance at the same moment (several
// applies of one fleet) converge: one makes it and applies its
// cloud-config, the others take it as made. A launch that fails removes
// the instance it made, never volumes, never another's instance.
func (m *Manager) Launch(ctx context.Context, s *spec.Spec) error {
	if _, err := m.d.Instance(ctx, s.Name); err == nil {
		return nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return m.create(ctx, s, Target(s.Placement))
}

// create is Launch once the instance was seen missing (by Launch, a plan
// or a rebuild), placing it at target (see driver.CreateOptions.Target).
// One made meanwhile by another caller is left to that caller.
func (m *Manager) create(ctx context.Context, s *spec.Spec, target string) error {
	var apply cloudConfigApply
	var userData string
	native := s.CloudConfigMode == spec.CloudConfigNative && len(s.CloudConfig) > 0
	if native {
		var err error
		if userData, err = NativeUserData(s.CloudConfig); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	} else {
		var err error
		if apply, err = m.cloudConfig(s); err != nil {
			return err
		}
	}
	src, err := m.ReadSources(ctx, []*spec.Spec{s})
	if err != nil {
		return err
	}
	if err := m.volumes(ctx, s); err != nil {
		return err
	}
	opts := m.createOptions(s)
	opts.Config[KeyProfiles] = recordProfiles(s, src)
	opts.Config[KeyCloudConfig] = recordCloudConfig(s, src)
	opts.Target = target
	if native {
		key, err := m.userDataKey(ctx)
		if err != nil {
			return err
		}
		if _, set := opts.Config[key]; set {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: config sets %s and cloud-config-mode: native hands the cloud-config files there: use one of them", s.Name, key)
		}
		opts.Config[key] = userData
		// The image's cloud-init reads it at the first start: wait for it
		// below, as an applied cloud-config is waited for.
		apply = func(ctx context.Context, _ transport.Transport, _ cloudconfig.ApplyOptions) error {
			return driver.WaitForCloudInit(ctx, m.d, s.Name, 0)
		}
	}
	var made bool
	opts.Made = &made
	if err := m.d.Create(ctx, s.Name, opts); err != nil {
		return err
	}
	if apply == nil || !made {
		return nil // another caller made it, and applies its cloud-config
	}
	if err := apply(ctx, m.d.Transport(s.Name), m.applyOptions(nil)); err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = m.d.Delete(cctx, s.Name)
		if native {
			return err // WaitForCloudInit's errors name the instance
		}
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// userDataKey is the configuration key that hands user-data to
// cloud-init on this host (see UserDataKey).
func (m *Manager) userDataKey(ctx context.Context) (string, error) {
	srv, err := m.h.Server(ctx)
	if err != nil {
		return "", err
	}
	if slices.Contains(srv.APIExtensions, "cloud_init") {
		return UserDataKey, nil
	}
	return UserDataKeyOld, nil
}

// Rebuild replaces the instance with a new one made from the Spec (a
// newer image, or a newer template snapshot as its origin), keeping its
// volumes and so their data: the old instance is stopped and deleted, the
// new one launched and attached to the same volumes, on the same cluster
// member (where the volumes are). A missing instance is simply launched.
// A missing origin snapshot is an error before anything is deleted.
func (m *Manager) Rebuild(ctx context.Context, s *spec.Spec, stop driver.StopOptions) error {
	member := ""
	if inst, err := m.d.Instance(ctx, s.Name); err == nil && hostapi.OnCluster(inst.Location) {
		member = inst.Location
	} else if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return m.rebuild(ctx, s, stop, member)
}

// rebuild is Rebuild, the new instance placed on member (none: as the
// Spec says).
func (m *Manager) rebuild(ctx context.Context, s *spec.Spec, stop driver.StopOptions, member string) error {
	if err := m.checkOrigin(ctx, s); err != nil {
		return err
	}
	if err := m.d.Stop(ctx, s.Name, stop); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	if err := m.d.Delete(ctx, s.Name); err != nil {
		return err
	}
	if member == "" {
		member = Target(s.Placement)
	}
	return m.create(ctx, s, member)
}

// DeleteOptions says what goes with an instance.
type DeleteOptions struct {
	// Volumes deletes the Spec's volumes too, with their data.
	Volumes bool
}

// Delete deletes the instance, and its volumes if asked. Missing ones
// are success.
func (m *Manager) Delete(ctx context.Context, s *spec.Spec, opts DeleteOptions) error {
	if err := m.d.Delete(ctx, s.Name); err != nil {
		return err
	}
	if !opts.Volumes {
		return nil
	}
	var errs []error
	for _, name := range sortedVolumes(s) {
		v := s.Volumes[name]
		errs = append(errs, m.h.Volumes(v.Pool).Delete(ctx, v.Volume))
	}
	return errors.Join(errs...)
}

// Snapshot snapshots the instance and its volumes under one name.
// Existing snapshots of that name are kept as they are.
func (m *Manager) Snapshot(ctx context.Context, s *spec.Spec, snap string) error {
	if err := m.h.Snapshots(s.Name).Create(ctx, api.InstanceSnapshotsPost{Name: snap}); err != nil {
		return err
	}
	for _, name := range sortedVolumes(s) {
		v := s.Volumes[name]
		if err := m.h.VolumeSnapshots(v.Pool, v.Volume).Create(ctx, api.InstanceSnapshotsPost{Name: snap}); err != nil {
			return fmt.Errorf("%s: volume %s: %w", s.Name, name, err)
		}
	}
	return nil
}

// Rollback brings the instance and its volumes back to a snapshot that
// Snapshot made. The instance is stopped for it and started again if it
// was running. Its volumes' disk devices keep the names the Spec gives
// (a snapshot taken before a Rename holds the old ones).
func (m *Manager) Rollback(ctx context.Context, s *spec.Spec, snap string, stop driver.StopOptions) error {
	if _, err := m.h.Snapshots(s.Name).Get(ctx, snap); err != nil {
		return err
	}
	for _, name := range sortedVolumes(s) {
		v := s.Volumes[name]
		if _, err := m.h.VolumeSnapshots(v.Pool, v.Volume).Get(ctx, snap); err != nil {
			return fmt.Errorf("%s: volume %s: %w", s.Name, name, err)
		}
	}
	status, err := m.d.Status(ctx, s.Name)
	if err != nil {
		return err
	}
	if err := m.d.Stop(ctx, s.Name, stop); err != nil {
		return err
	}
	if err := m.h.RestoreSnapshot(ctx, s.Name, snap, false); err != nil {
		return err
	}
	for _, name := range sortedVolumes(s) {
		v := s.Volumes[name]
		if err := m.h.RestoreVolumeSnapshot(ctx, v.Pool, v.Volume, snap); err != nil {
			return fmt.Errorf("%s: volume %s: %w", s.Name, name, err)
		}
	}
	if err := m.repointVolumes(ctx, s); err != nil { // a snapshot from before a Rename
		return err
	}
	if status == driver.StatusRunning {
		return m.d.Start(ctx, s.Name)
	}
	return nil
}

// Clone makes dst, an instance of the same Spec, as a copy of src's
// instance (at snapshot snap, if not empty) and of its volumes, then
// starts it. dst's volumes are copies named as dst's Spec says; its
// cloud-config files are not applied (the copy has what they did). An
// existing dst is left as it is.
func (m *Manager) Clone(ctx context.Context, src, dst *spec.Spec, snap string) error {
	if _, err := m.d.Instance(ctx, dst.Name); err == nil {
		return nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	for _, name := range sortedVolumes(dst) {
		from, ok := src.Volumes[name]
		to := dst.Volumes[name]
		if !ok {
			continue
		}
		source := from.Volume
		if snap != "" {
			source += "/" + snap
		}
		if err := m.h.CopyVolume(ctx, from.Pool, source, to.Pool, to.Volume); err != nil {
			return fmt.Errorf("%s: volume %s: %w", dst.Name, name, err)
		}
	}
	if err := m.volumes(ctx, dst); err != nil { // those src lacks
		return err
	}
	opts := m.createOptions(dst)
	err := m.h.CopyInstance(ctx, src.Name, dst.Name, host.CopyInstanceOptions{
		Snapshot: snap, Config: opts.Config, Devices: opts.Devices, Profiles: opts.Profiles, InstanceOnly: true,
	})
	if err != nil {
		return err
	}
	return m.d.Start(ctx, dst.Name)
}
