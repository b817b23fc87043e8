package fleet

import (
	"context"
	"errors"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/spec"
)

// View is what Views compares of an instance and its Spec: the image it
// was made from, its profiles, configuration, own devices (volumes
// included) and custom volumes. It marshals to YAML with its map keys
// sorted, for a line diff.
type View struct {
	// Image is the first 12 digits of the image's fingerprint; empty
	// when not compared.
	Image    string                       `yaml:"image,omitempty" json:"image,omitempty"`
	Profiles []string                     `yaml:"profiles" json:"profiles"`
	Config   map[string]string            `yaml:"config,omitempty" json:"config,omitempty"`
	Devices  map[string]map[string]string `yaml:"devices,omitempty" json:"devices,omitempty"`
	// Volumes are the custom volumes the Spec names, by device name;
	// one missing on the host is left out of the instance's View.
	Volumes map[string]VolumeView `yaml:"volumes,omitempty" json:"volumes,omitempty"`
}

// VolumeView is a custom volume in a View: where it is and, of its
// configuration, the keys the Spec sets.
type VolumeView struct {
	Pool   string            `yaml:"pool" json:"pool"`
	Volume string            `yaml:"volume" json:"volume"`
	Config map[string]string `yaml:"config,omitempty" json:"config,omitempty"`
}

// viewed reports whether an instance's configuration key is compared:
// not the daemon's volatile.* and image.* keys, nor lxkit's records.
func viewed(key string) bool {
	return !strings.HasPrefix(key, "volatile.") && !strings.HasPrefix(key, "image.") && !strings.HasPrefix(key, "user.lxkit.")
}

// Views are the instance (have) and its Spec (want) as they compare,
// with no I/O. image is the first digits of the fingerprint of the
// Spec's image on the host (or a word that says why there is none),
// compared with the instance's volatile.base_image; empty compares no
// image. vols are the custom volumes of the Spec's volumes, by device
// name; one missing is not on the host. A Spec without profiles leaves
// them to the daemon: they are not compared.
func Views(s *spec.Spec, inst api.Instance, image string, vols map[string]*api.StorageVolume) (have, want View) {
	opts := createOptions(s, "")
	have = View{Profiles: inst.Profiles, Config: map[string]string{}, Devices: inst.Devices}
	want = View{Profiles: s.Profiles, Config: map[string]string{}, Devices: opts.Devices}
	if image != "" {
		base := inst.Config["volatile.base_image"]
		have.Image, want.Image = base[:min(len(base), 12)], image
		if base != "" && strings.HasPrefix(base, image) {
			have.Image = image // the same image, named by a shorter prefix
		}
	}
	if want.Profiles == nil {
		want.Profiles = have.Profiles
	}
	for k, v := range inst.Config {
		if viewed(k) {
			have.Config[k] = v
		}
	}
	for k, v := range opts.Config {
		if viewed(k) {
			want.Config[k] = v
		}
	}
	for name, v := range s.Volumes {
		if want.Volumes == nil {
			want.Volumes = map[string]VolumeView{}
		}
		want.Volumes[name] = VolumeView{Pool: v.Pool, Volume: v.Volume, Config: v.Config}
		vol := vols[name]
		if vol == nil {
			continue
		}
		if have.Volumes == nil {
			have.Volumes = map[string]VolumeView{}
		}
		hv := VolumeView{Pool: v.Pool, Volume: vol.Name}
		for k := range v.Config {
			if val, ok := vol.Config[k]; ok {
				if hv.Config == nil {
					hv.Config = map[string]string{}
				}
				hv.Config[k] = val
			}
		}
		have.Volumes[name] = hv
	}
	if len(have.Devices) == 0 {
		have.Devices = nil
	}
	if len(want.Devices) == 0 {
		want.Devices = nil
	}
	return have, want
}

// Views reads the Spec's instance, the fingerprint of its image and its
// custom volumes, and returns the instance (have) and the Spec (want) as
// they compare (see the function Views). A missing instance is
// errdefs.ErrNotFound.
func (m *Manager) Views(ctx context.Context, s *spec.Spec) (have, want View, err error) {
	inst, err := m.d.Instance(ctx, s.Name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return View{}, View{}, errdefs.Wrap(errdefs.ErrNotFound, err, "%s: no such instance on %s", s.Name, m.h.Addr())
	}
	if err != nil {
		return View{}, View{}, err
	}
	image := ""
	switch ref := imageRef(s.Image); {
	case s.Image.Server == "":
		fp, err := m.h.Images().Resolve(ctx, ref)
		switch {
		case errors.Is(err, errdefs.ErrNotFound):
			image = ref + " (not on the host)"
		case err != nil:
			return View{}, View{}, err
		default:
			image = fp[:min(len(fp), 12)]
		}
	case s.Image.Fingerprint != "":
		image = s.Image.Fingerprint[:min(len(s.Image.Fingerprint), 12)]
	}
	vols := map[string]*api.StorageVolume{}
	for _, name := range sortedVolumes(s) {
		v := s.Volumes[name]
		vol, err := m.h.Volumes(v.Pool).Get(ctx, v.Volume)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return View{}, View{}, err
		}
		vols[name] = vol
	}
	have, want = Views(s, *inst, image, vols)
	return have, want, nil
}
