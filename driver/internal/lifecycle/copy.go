package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
)

// copySource checks the instance (and snapshot) that opts.Source names
// and returns the API's source that copies it; a missing one is a clear
// ErrNotFound before anything is asked of the daemon.
func (d *Driver) copySource(ctx context.Context, opts driver.CreateOptions) (api.InstanceSource, error) {
	src := api.InstanceSource{Type: "copy", Source: opts.Source, InstanceOnly: true}
	img := opts.Image
	if img.Alias != "" || img.Fingerprint != "" || len(img.Properties) > 0 || img.Server != "" {
		return src, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "source %s: give an image or an instance to copy, not both", opts.Source)
	}
	inst, snap, hasSnap := strings.Cut(opts.Source, "/")
	if _, err := d.h.Instances().Get(ctx, inst); err != nil {
		return src, fmt.Errorf("source %s: %w", opts.Source, err)
	}
	if hasSnap {
		if _, err := d.h.Snapshots(inst).Get(ctx, snap); err != nil {
			return src, fmt.Errorf("source %s: %w", opts.Source, err)
		}
	}
	return src, nil
}

// settleCopy gives a copy just made the configuration, devices and
// profiles that opts ask for: the daemon's copy merges the source's own
// into them (LXD 5.0.2 and Incus 6.0.4 alike, as `lxc copy` does), and a
// copy should be what its options say, not carry the template's keys or
// devices. The daemon's volatile.* and image.* keys stay; so does the
// source's root disk device when opts name none (see
// driver.CreateOptions.Source): a root disk cannot change pools in place.
func (d *Driver) settleCopy(ctx context.Context, name string, opts driver.CreateOptions) error {
	want := createRequest(name, api.InstanceSource{}, opts)
	return d.h.Instances().Update(ctx, name, func(put *api.InstancePut) error {
		config := maps.Clone(want.Config)
		for k, v := range put.Config {
			if _, set := config[k]; !set && (strings.HasPrefix(k, "volatile.") || strings.HasPrefix(k, "image.")) {
				config[k] = v
			}
		}
		devices := maps.Clone(want.Devices)
		if !hasRootDisk(devices) {
			for k, dev := range put.Devices {
				if _, taken := devices[k]; !taken && isRootDisk(dev) {
					devices[k] = dev
				}
			}
		}
		put.Config, put.Devices, put.Profiles, put.Ephemeral = config, devices, want.Profiles, want.Ephemeral
		return nil
	})
}

func isRootDisk(dev map[string]string) bool { return dev["type"] == "disk" && dev["path"] == "/" }

func hasRootDisk(devices map[string]map[string]string) bool {
	for _, dev := range devices {
		if isRootDisk(dev) {
			return true
		}
	}
	return false
}
