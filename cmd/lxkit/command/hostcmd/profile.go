package hostcmd

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

var profiles = &kind[api.Profile, api.ProfilesPost]{
	noun: "profile", arg: "PROFILE",
	coll:   func(h *host.Host, _ string) collection[api.Profile, api.ProfilesPost] { return h.Profiles() },
	name:   func(p *api.Profile) *string { return &p.Name },
	header: "DESCRIPTION\tUSED BY",
	row:    func(p *api.Profile) string { return p.Description + "\t" + strconv.Itoa(len(p.UsedBy)) },
	post: func(o *Options) api.ProfilesPost {
		return api.ProfilesPost{Name: o.Names[0], ProfilePut: api.ProfilePut{
			Description: deref(o.Description), Config: o.Config, Devices: o.Devices}}
	},
	createFlags: func(cmd *cobra.Command, o *Options) func() error {
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
	update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Profiles().Update(ctx, name, func(p *api.ProfilePut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// NewCmdProfile returns `lxkit profile` and its subcommands. runF, when
// not nil, runs instead of each subcommand (for tests).
func NewCmdProfile(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmds := profiles.commands(f, runF)
	cmds = append(cmds, group("device <command>", "Add or remove a profile's devices", "",
		newCmdDeviceAdd(f, runF), newCmdDeviceRemove(f, runF)))
	cmd := group("profile <command>", "Manage profiles: configuration and devices that containers apply",
		`Manage the host's profiles. A profile name may start with the container path
of a nested host: outer/web is the profile web of the LXD inside outer, and
"profile list outer/" lists that host's profiles.`, cmds...)
	cmd.Example = `  lxkit profile create web limits.memory=512MiB --device data,type=disk,source=/srv,path=/srv
  lxkit profile set web user.note=staging
  lxkit launch app --image testimage --profile default --profile web
  lxkit profile list outer/`
	return cmd
}

func newCmdDeviceAdd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "device add")
	return &cobra.Command{
		Use:   "add [HOST/]PROFILE DEVICE TYPE [KEY=VALUE...]",
		Short: "Add a device to a profile (the same device again is no change)",
		Long: `Add a device to a profile, as "lxc profile device add" does. A device of that
name with other settings is refused: remove it first.`,
		Example: `  lxkit profile device add web data disk source=/srv/data path=/mnt/data
  lxkit profile device add web http proxy listen=tcp:0.0.0.0:80 connect=tcp:127.0.0.1:8080`,
		Args: cmdutil.MinimumArgs(3, "a profile, a device name and its type"),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			if err := opts.setNames(args[:1]); err != nil {
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

func deviceAddRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	err = h.Profiles().Update(ctx, o.Names[0], func(p *api.ProfilePut) error {
		for name, dev := range o.Devices {
			if old, ok := p.Devices[name]; ok && !maps.Equal(old, dev) {
				return errdefs.Wrap(errdefs.ErrConflict, nil, "profile %s has a device %s already, with other settings: remove it first", o.path(o.Names[0]), name)
			}
		}
		host.MergeDevices(&p.Devices, o.Devices)
		return nil
	})
	if err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Updated profile %s", o.path(o.Names[0]))
	return nil
}

func newCmdDeviceRemove(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	opts := newOptions(f, "device remove")
	return &cobra.Command{
		Use:   "remove [HOST/]PROFILE DEVICE...",
		Short: "Remove devices from a profile (a missing one is not an error)",
		Args:  cmdutil.MinimumArgs(2, "a profile and at least one device name"),
		RunE: runE(opts, func(_ *cobra.Command, args []string) error {
			if err := opts.setNames(args[:1]); err != nil {
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

func deviceRemoveRun(ctx context.Context, o *Options) error {
	h, err := o.host(ctx)
	if err != nil {
		return err
	}
	err = h.Profiles().Update(ctx, o.Names[0], func(p *api.ProfilePut) error {
		host.MergeDevices(&p.Devices, o.Devices)
		return nil
	})
	if err != nil {
		return err
	}
	cmdutil.Success(o.IO, o.Globals, "Updated profile %s", o.path(o.Names[0]))
	return nil
}
