package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lxkit/lxkit/cloudconfig"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/spec"
)

// ConfigureOptions say how Configure applies cloud-config files.
type ConfigureOptions struct {
	// Force applies the files even when they are as they were when last
	// applied.
	Force bool
	// Progress, when set, is told of each step as it starts, such as
	// "web.cfg: runcmd[0]".
	Progress func(step string)
}

// Configured says what Configure did.
type Configured struct {
	// Files are the names of the instance's cloud-config files.
	Files []string
	// Applied is false when nothing ran: the files were as they were
	// when last applied (or there are none).
	Applied bool
	// Steps are the steps applied, in order ("web.cfg: write_files[0]:
	// /etc/motd"); see cloudconfig.ApplyOptions.Progress.
	Steps []string
}

// Configure applies the Spec's cloud-config files again to its running
// instance, as Launch applied them, and records them (KeyCloudConfig),
// so that Plan sees their next change. Files whose content is as it was
// when they were last applied are not applied again unless opts.Force
// says so: a second Configure changes nothing. A file that cannot be
// read or parsed is reported before anything runs. A missing instance is
// errdefs.ErrNotFound, a stopped one errdefs.ErrConflict.
func (m *Manager) Configure(ctx context.Context, s *spec.Spec, opts ConfigureOptions) (Configured, error) {
	done := Configured{}
	for _, path := range s.CloudConfig {
		done.Files = append(done.Files, fileName(path))
	}
	inst, err := m.d.Instance(ctx, s.Name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return done, errdefs.Wrap(errdefs.ErrNotFound, err, "%s: no such instance on %s (configure changes an existing one; up makes it)", s.Name, m.h.Addr())
	}
	if err != nil {
		return done, err
	}
	if s.CloudConfigMode == spec.CloudConfigNative && len(s.CloudConfig) > 0 {
		return done, errdefs.Wrap(errdefs.ErrPreconditionFailed, nil,
			"%s: cloud-config-mode: native: the image's cloud-init applies the files at the first boot only; rebuild it to apply them again (lxkit rebuild)", s.Name)
	}
	apply, err := m.cloudConfig(s)
	if err != nil {
		return done, err
	}
	files := *s
	files.Profiles = nil
	src, err := m.ReadSources(ctx, []*spec.Spec{&files})
	if err != nil {
		return done, err
	}
	want := recordCloudConfig(s, src)
	if apply == nil || (!opts.Force && inst.Config[KeyCloudConfig] == want) {
		if inst.Config[KeyCloudConfig] != want {
			return done, m.d.Update(ctx, s.Name, driver.UpdateOptions{Config: map[string]string{KeyCloudConfig: want}})
		}
		return done, nil
	}
	if !strings.EqualFold(inst.Status, driver.StatusRunning) {
		return done, errdefs.Wrap(errdefs.ErrConflict, nil, "%s is %s: start it first (cloud-config is applied to a running instance)", s.Name, strings.ToLower(inst.Status))
	}
	done.Steps, err = m.configure(ctx, s, apply, want, opts.Progress)
	done.Applied = true
	return done, err
}

// cloudConfig reads and checks the Spec's cloud-config files; nil when
// it names none.
func (m *Manager) cloudConfig(s *spec.Spec) (cloudConfigApply, error) {
	if len(s.CloudConfig) == 0 {
		return nil, nil
	}
	if m.CloudConfig == nil {
		return nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s: cloud-config files are named but no way to apply them was given", s.Name)
	}
	apply, err := m.CloudConfig(s.CloudConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return apply, nil
}

// applyOptions are the options cloud-config files are applied with:
// command output to Out, each step to progress.
func (m *Manager) applyOptions(progress func(string)) cloudconfig.ApplyOptions {
	out := m.Out
	if out == nil {
		out = io.Discard
	}
	return cloudconfig.ApplyOptions{Stdout: out, Stderr: out, Progress: progress}
}

// configure applies cloud-config files to the running instance of s and
// then records them as applied (record, recordCloudConfig's). It returns
// the steps that ran.
func (m *Manager) configure(ctx context.Context, s *spec.Spec, apply cloudConfigApply, record string, progress func(string)) ([]string, error) {
	var steps []string
	err := apply(ctx, m.d.Transport(s.Name), m.applyOptions(func(step string) {
		steps = append(steps, step)
		if progress != nil {
			progress(step)
		}
	}))
	if err != nil {
		return steps, fmt.Errorf("%s: %w", s.Name, err)
	}
	return steps, m.d.Update(ctx, s.Name, driver.UpdateOptions{Config: map[string]string{KeyCloudConfig: record}})
}
