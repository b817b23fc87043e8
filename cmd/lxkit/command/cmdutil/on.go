package cmdutil

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/lxkit/lxkit/driver"
)

// OnFlag adds --on PATH to flags and returns drv narrowed by it: with
// --on, the driver of the daemon inside that container (outer, or
// outer/middle), which the default driver setup reaches through nested
// transports.
func OnFlag(flags *pflag.FlagSet, drv func(context.Context) (driver.Driver, error)) func(context.Context) (driver.Driver, error) {
	on := flags.String("on", "", "work on the daemon inside this container (a path: outer, outer/middle)")
	return func(ctx context.Context) (driver.Driver, error) {
		d, err := drv(ctx)
		if err != nil {
			return nil, err
		}
		return driver.HostAt(ctx, d, *on)
	}
}
