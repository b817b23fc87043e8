package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/spec"
)

// Keys that record what an instance was made from besides its Spec, so
// that Plan sees a change there.
const (
	// KeyProfiles records each profile the Spec names as the host held it
	// when the instance was made or last updated: "default=HASH,web=HASH"
	// (ProfileHash), in the Spec's order.
	KeyProfiles = "user.lxkit.profiles"
	// KeyCloudConfig records each cloud-config file as it was when it
	// was last applied: "web.cfg=HASH" (FileHash; the file's base name),
	// in the Spec's order, or "none" for a Spec that names none. An
	// instance without it was made before lxkit recorded it: Plan sees
	// no change in its files, and apply records them without applying
	// them again.
	KeyCloudConfig = "user.lxkit.cloud-config"
)

// noCloudConfig is KeyCloudConfig for a Spec without cloud-config files.
const noCloudConfig = "none"

// Sources is what a fleet's instances are made from besides their Specs,
// read before Diff: the profiles on the host and the cloud-config files
// on disk, as they are now.
type Sources struct {
	// Profiles is the ProfileHash of each profile, by name. A profile
	// left out is not compared.
	Profiles map[string]string
	// CloudConfig is the FileHash of each cloud-config file, by its path
	// as the Spec names it. A file left out is not compared.
	CloudConfig map[string]string
}

// ProfileHash is the hash of what a profile gives the instances that use
// it: its configuration and devices (not its description).
func ProfileHash(p api.ProfilePut) string {
	v := struct {
		Config  map[string]string            `json:"config,omitempty"`
		Devices map[string]map[string]string `json:"devices,omitempty"`
	}{p.Config, p.Devices}
	data, _ := json.Marshal(v) // map keys come out sorted
	return shortHash(data)
}

// FileHash is the hash of a file's content.
func FileHash(data []byte) string { return shortHash(data) }

func shortHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// ReadSources reads the profiles and cloud-config files that specs name:
// each profile once, from the manager's host (one that is missing is
// left out), and each file once. A file that cannot be read is an error.
func (m *Manager) ReadSources(ctx context.Context, specs []*spec.Spec) (Sources, error) {
	src := Sources{Profiles: map[string]string{}, CloudConfig: map[string]string{}}
	for _, s := range specs {
		for _, name := range s.Profiles {
			if _, done := src.Profiles[name]; done {
				continue
			}
			p, err := m.h.Profiles().Get(ctx, name)
			if errors.Is(err, errdefs.ErrNotFound) {
				continue // the update that needs it says so
			}
			if err != nil {
				return Sources{}, fmt.Errorf("%s: profile %s: %w", s.Name, name, err)
			}
			src.Profiles[name] = ProfileHash(p.ProfilePut)
		}
		for _, path := range s.CloudConfig {
			if _, done := src.CloudConfig[path]; done {
				continue
			}
			data, err := readSmall(path)
			if err != nil {
				return Sources{}, fmt.Errorf("%s: %w", s.Name, err)
			}
			src.CloudConfig[path] = FileHash(data)
		}
	}
	return src, nil
}

// entry is one NAME=HASH of KeyProfiles or KeyCloudConfig.
type entry struct{ name, hash string }

// recordProfiles is KeyProfiles for s, as src sees its profiles; a
// profile src lacks is recorded with an empty hash.
func recordProfiles(s *spec.Spec, src Sources) string {
	var es []entry
	for _, p := range s.Profiles {
		es = append(es, entry{p, src.Profiles[p]})
	}
	return joinEntries(es)
}

// recordCloudConfig is KeyCloudConfig for s, as src sees its files.
func recordCloudConfig(s *spec.Spec, src Sources) string {
	if len(s.CloudConfig) == 0 {
		return noCloudConfig
	}
	var es []entry
	for _, path := range s.CloudConfig {
		es = append(es, entry{fileName(path), src.CloudConfig[path]})
	}
	return joinEntries(es)
}

// fileName names a cloud-config file in records and messages: its base
// name, without the separators of a record.
func fileName(path string) string {
	return strings.NewReplacer(",", "_", "=", "_").Replace(filepath.Base(path))
}

func joinEntries(es []entry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.name + "=" + e.hash
	}
	return strings.Join(parts, ",")
}

func splitEntries(s string) []entry {
	if s == "" || s == noCloudConfig {
		return nil
	}
	var es []entry
	for _, part := range strings.Split(s, ",") {
		name, hash, _ := strings.Cut(part, "=")
		es = append(es, entry{name, hash})
	}
	return es
}

// Drift says what changed in the profiles and cloud-config files of an
// instance made from s since it was made or last updated, as recorded in
// its configuration and seen in src now: "profile web changed",
// "cloud-config web.cfg changed", "cloud-config files [a.cfg] ->
// [a.cfg b.cfg]". What was not recorded, or src lacks, is not compared;
// a list of profiles that changed is the update's own reason, not drift.
func Drift(s *spec.Spec, inst api.Instance, src Sources) []string {
	var why []string
	for _, e := range splitEntries(inst.Config[KeyProfiles]) {
		now, ok := src.Profiles[e.name]
		if ok && e.hash != "" && slices.Contains(s.Profiles, e.name) && now != e.hash {
			why = append(why, "profile "+e.name+" changed")
		}
	}
	rec, ok := inst.Config[KeyCloudConfig]
	if !ok || rec == "" {
		return why
	}
	was := splitEntries(rec)
	var wasNames, nowNames []string
	for _, e := range was {
		wasNames = append(wasNames, e.name)
	}
	for _, path := range s.CloudConfig {
		nowNames = append(nowNames, fileName(path))
	}
	if !slices.Equal(wasNames, nowNames) {
		return append(why, fmt.Sprintf("cloud-config files %s -> %s", list(wasNames), list(nowNames)))
	}
	for i, path := range s.CloudConfig {
		if now, ok := src.CloudConfig[path]; ok && now != was[i].hash {
			why = append(why, "cloud-config "+nowNames[i]+" changed")
		}
	}
	return why
}

func list(names []string) string { return "[" + strings.Join(names, " ") + "]" }

// drifted adds to a change of Diff what changed in the instance's
// profiles and cloud-config files: an instance to keep is updated
// (which records them, and applies cloud-config files again), one to
// start is started and then updated. Cloud-config files handed to the
// image's cloud-init (cloud-config-mode: native) that changed ask for a
// rebuild.
func drifted(c Change, s *spec.Spec, inst api.Instance, src Sources) Change {
	d := Drift(s, inst, src)
	if len(d) == 0 {
		return c
	}
	c.Drift = d
	if s.CloudConfigMode == spec.CloudConfigNative && slices.ContainsFunc(d, func(why string) bool { return strings.HasPrefix(why, "cloud-config ") }) {
		// The image's cloud-init applies its user-data at the first boot
		// only: a new instance applies the files as they are now.
		if c.Action != Rebuild {
			c.Action, c.Why = Rebuild, nil
		}
		c.Why = append(c.Why, d...)
		return c
	}
	switch c.Action {
	case Keep:
		c.Action, c.Why = Update, d
	case Start, Update:
		if len(c.Why) == 1 && c.Why[0] == recordedHashOnly {
			c.Why = nil
		}
		c.Why = append(c.Why, d...)
	}
	return c
}

// recordedHashOnly is the update's reason when nothing else differs.
const recordedHashOnly = "recorded hash only"

// cloudConfigChanged reports whether the cloud-config files of an
// instance made from s must be applied again: they differ from those
// recorded (want is recordCloudConfig's). An instance that has no record
// (made before lxkit kept one) is not.
func cloudConfigChanged(inst api.Instance, want string) bool {
	rec := inst.Config[KeyCloudConfig]
	return rec != "" && rec != want && want != noCloudConfig
}
