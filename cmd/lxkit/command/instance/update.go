package instance

import (
	"context"
	"fmt"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/spf13/cobra"
)

// UpdateOptions are the inputs of `lxkit update`.
type UpdateOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name   string
	Update driver.UpdateOptions
}

// NewCmdUpdate returns `lxkit update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var config, devices, remove, profiles []string
	cmd := &cobra.Command{
		Use:   "update NAME [-c KEY=VALUE]... [--device SPEC]... [--remove-device NAME]... [--profile P]...",
		Short: "Change a container's config, devices or profiles",
		Long: `Merge changes into a container's configuration.

-c KEY=VALUE sets a key and -c KEY= removes it. --device adds or replaces a
device; --remove-device removes one. --profile, when given, replaces the whole
profile list. Other settings are left as they are.`,
		Example: `  lxkit update web -c limits.memory=512MiB -c user.note=
  lxkit update web --device http,type=proxy,listen=tcp:0.0.0.0:8080,connect=tcp:127.0.0.1:80
  lxkit update web --remove-device http`,
		Args: cmdutil.ExactArgs(1, "one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			u, err := parseUpdate(config, devices, remove)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("profile") {
				u.Profiles = profiles
			}
			if len(u.Config) == 0 && len(u.Devices) == 0 && u.Profiles == nil {
				return cmdutil.FlagErrorf("nothing to update: give -c, --device, --remove-device or --profile")
			}
			opts.Update = u
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&config, "config", "c", nil, "set KEY=VALUE, or remove KEY with KEY=; repeatable")
	fl.StringArrayVar(&devices, "device", nil, "add or replace device NAME,type=TYPE,KEY=VALUE...; repeatable")
	fl.StringArrayVar(&remove, "remove-device", nil, "remove the named device; repeatable")
	fl.StringArrayVar(&profiles, "profile", nil, "profile list to apply (replaces the current list); repeatable")
	return cmd
}

func parseUpdate(config, devices, remove []string) (driver.UpdateOptions, error) {
	var u driver.UpdateOptions
	var err error
	if u.Config, err = cmdutil.ParseConfig(config, true); err != nil {
		return u, &cmdutil.FlagError{Err: fmt.Errorf("-c: %w", err)}
	}
	if u.Devices, err = cmdutil.ParseDevices(devices); err != nil {
		return u, &cmdutil.FlagError{Err: fmt.Errorf("--device: %w", err)}
	}
	for _, name := range remove {
		if name == "" {
			return u, cmdutil.FlagErrorf("--remove-device: empty device name")
		}
		if u.Devices[name] != nil {
			return u, cmdutil.FlagErrorf("device %q is both added and removed", name)
		}
		u.Devices[name] = nil
	}
	return u, nil
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	if err := cmdutil.ValidateNames(opts.Name); err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	// Update reads the container first: a missing one is a clear not-found
	// error from the driver.
	if _, err := d.Instance(ctx, opts.Name); err != nil {
		return err
	}
	if err := d.Update(ctx, opts.Name, opts.Update); err != nil {
		return err
	}
	cmdutil.Success(opts.IO, opts.Globals, "Updated %s", opts.Name)
	return nil
}
