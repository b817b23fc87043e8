// Package profile is `lxkit profile`: the host's profiles and their
// devices.
package profile

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var profiles = &objects.Kind[api.Profile, api.ProfilesPost]{
	Noun: "profile", Arg: "PROFILE",
	Open: func(h *host.Host, _ string) objects.Collection[api.Profile, api.ProfilesPost] {
		return h.Profiles()
	},
	Name:   func(p *api.Profile) *string { return &p.Name },
	Header: "DESCRIPTION\tUSED BY",
	Row:    func(p *api.Profile) string { return p.Description + "\t" + strconv.Itoa(len(p.UsedBy)) },
	Post: func(o *objects.CreateOptions) api.ProfilesPost {
		return api.ProfilesPost{Name: o.Name, ProfilePut: api.ProfilePut{
			Description: o.Description, Config: o.Config, Devices: o.Devices}}
	},
	CreateFlags: func(cmd *cobra.Command, o *objects.CreateOptions) func() error {
		var specs []string
		cmd.Use += " [--device SPEC]..."
		cmd.Flags().StringArrayVar(&specs, "device", nil, "add device NAME,type=TYPE,KEY=VALUE...; repeatable")
		return func() (err error) {
			if o.Devices, err = cmdutil.ParseDevices(specs); err != nil {
				return &cmdutil.FlagError{Err: fmt.Errorf("--device: %w", err)}
			}
			return nil
		}
	},
	Update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Profiles().Update(ctx, name, func(p *api.ProfilePut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
	Editable: func(h *host.Host, _ string) objects.Editable { return objects.EditableOf(h.Profiles()) },
}

// NewCmdProfile returns `lxkit profile` and its subcommands.
func NewCmdProfile(f *cmdutil.Factory) *cobra.Command {
	cmds := profiles.Commands(f)
	cmds = append(cmds, NewCmdDiff(f, nil), objects.Group("device <command>", "Add or remove a profile's devices", "",
		NewCmdDeviceAdd(f, nil), NewCmdDeviceRemove(f, nil)))
	cmd := objects.Group("profile <command>", "Manage profiles: configuration and devices that containers apply",
		`Manage the host's profiles. A profile name may start with the container path
of a nested host: outer/web is the profile web of the LXD inside outer, and
"profile list outer/" lists that host's profiles.`, cmds...)
	cmd.Example = `  lxkit profile create web limits.memory=512MiB --device data,type=disk,source=/srv,path=/srv
  lxkit profile set web user.note=staging
  lxkit launch app --image testimage --profile default --profile web
  lxkit profile list outer/
  lxkit profile diff web outer/web`
	return cmd
}

// DiffOptions are the inputs of `profile diff`.
type DiffOptions struct {
	objects.Scope // A's host
	// Other is B's host: a profile may be on another nested host than A.
	Other objects.Scope
	A, B  string
}

// NewCmdDiff returns `lxkit profile diff`. runF, when not nil, runs
// instead (for tests).
func NewCmdDiff(f *cmdutil.Factory, runF func(context.Context, *DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{Scope: objects.NewScope(f), Other: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "diff [HOST/]PROFILE [HOST/]PROFILE",
		Short: "Show how two profiles differ (exit status 1 when they do)",
		Long: `Print how the second profile differs from the first as a unified diff of
their YAML (description, config, devices): "-" lines are the first's, "+"
the second's. The two may be on different hosts, one of them nested:
"profile diff web outer/web" compares web with the profile web of the LXD
inside container outer. As diff(1), it prints nothing and exits 0 when they
are the same, exits 1 when they differ, and 2 on trouble (a missing
profile).`,
		Example: `  lxkit profile diff web web-staging
  lxkit profile diff default outer/default`,
		Args: cmdutil.ExactArgs(2, "two profiles"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.A, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			opts.B, err = opts.Other.SetHost(args[1], true)
			return err
		}, runF, diffRun),
	}
}

func diffRun(ctx context.Context, o *DiffOptions) error {
	read := func(s *objects.Scope, name string) (*api.ProfilePut, error) {
		h, err := s.HostAPI(ctx)
		if err != nil {
			return nil, err
		}
		p, err := h.Profiles().Get(ctx, name)
		if err != nil {
			return nil, err
		}
		return &p.ProfilePut, nil
	}
	a, err := read(&o.Scope, o.A)
	if err != nil {
		return cmdutil.Trouble(err)
	}
	b, err := read(&o.Other, o.B)
	if err != nil {
		return cmdutil.Trouble(err)
	}
	differ, err := cmdutil.WriteDiff(o.IO.Out, "profile "+o.Path(o.A), a, "profile "+o.Other.Path(o.B), b)
	switch {
	case err != nil:
		return cmdutil.Trouble(err)
	case differ:
		return cmdutil.Differ
	}
	return nil
}

// DeviceOptions are the inputs of `profile device add` and `profile
// device remove`.
type DeviceOptions struct {
	objects.Scope
	Profile string
	// Devices are the change, by name: a nil device is removed.
	Devices map[string]map[string]string
}

// NewCmdDeviceAdd returns `lxkit profile device add`. runF, when not nil,
// runs instead (for tests).
func NewCmdDeviceAdd(f *cmdutil.Factory, runF func(context.Context, *DeviceOptions) error) *cobra.Command {
	opts := &DeviceOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "add [HOST/]PROFILE DEVICE TYPE [KEY=VALUE...]",
		Short: "Add a device to a profile (the same device again is no change)",
		Long: `Add a device to a profile, as "lxc profile device add" does. A device of that
name with other settings is refused: remove it first.`,
		Example: `  lxkit profile device add web data disk source=/srv/data path=/mnt/data
  lxkit profile device add web http proxy listen=tcp:0.0.0.0:80 connect=tcp:127.0.0.1:8080`,
		Args: cmdutil.MinimumArgs(3, "a profile, a device name and its type"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.Profile, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			dev, err := cmdutil.ParseConfig(args[3:], false)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if _, ok := dev["type"]; ok {
				return cmdutil.FlagErrorf("the type is the third argument, not type=")
			}
			if args[1] == "" || args[2] == "" {
				return cmdutil.FlagErrorf("empty device name or type")
			}
			dev["type"] = args[2]
			opts.Devices = map[string]map[string]string{args[1]: dev}
			return nil
		}, runF, deviceAddRun),
	}
}

func deviceAddRun(ctx context.Context, o *DeviceOptions) error {
	return updateDevices(ctx, o, func(p *api.ProfilePut) error {
		for name, dev := range o.Devices {
			if old, ok := p.Devices[name]; ok && !maps.Equal(old, dev) {
				return errdefs.Wrap(errdefs.ErrConflict, nil, "profile %s has a device %s already, with other settings: remove it first", o.Path(o.Profile), name)
			}
		}
		return nil
	})
}

// NewCmdDeviceRemove returns `lxkit profile device remove`. runF, when not
// nil, runs instead (for tests).
func NewCmdDeviceRemove(f *cmdutil.Factory, runF func(context.Context, *DeviceOptions) error) *cobra.Command {
	opts := &DeviceOptions{Scope: objects.NewScope(f)}
	return &cobra.Command{
		Use:   "remove [HOST/]PROFILE DEVICE...",
		Short: "Remove devices from a profile (a missing one is not an error)",
		Args:  cmdutil.MinimumArgs(2, "a profile and at least one device name"),
		RunE: objects.RunE(opts, func(_ *cobra.Command, args []string) (err error) {
			if opts.Profile, err = opts.SetHost(args[0], true); err != nil {
				return err
			}
			opts.Devices = map[string]map[string]string{}
			for _, d := range args[1:] {
				if d == "" {
					return cmdutil.FlagErrorf("empty device name")
				}
				opts.Devices[d] = nil
			}
			return nil
		}, runF, deviceRemoveRun),
	}
}

func deviceRemoveRun(ctx context.Context, o *DeviceOptions) error {
	return updateDevices(ctx, o, func(*api.ProfilePut) error { return nil })
}

// updateDevices merges o.Devices into the profile's, after check.
func updateDevices(ctx context.Context, o *DeviceOptions, check func(*api.ProfilePut) error) error {
	h, err := o.HostAPI(ctx)
	if err != nil {
		return err
	}
	err = h.Profiles().Update(ctx, o.Profile, func(p *api.ProfilePut) error {
		if err := check(p); err != nil {
			return err
		}
		host.MergeDevices(&p.Devices, o.Devices)
		return nil
	})
	if err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Updated profile %s", o.Path(o.Profile))
	return nil
}
