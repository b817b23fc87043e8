package driver

import (
	"context"

	"github.com/lxkit/lxkit/errdefs"
)

// Nester is a Driver that reaches the hosts nested in its containers
// (package driver/nested): its container names may be paths,
// "outer/inner".
type Nester interface {
	Driver
	// Host returns the driver of the host inside the container at path
	// ("outer/inner": the one inside inner, which runs in outer); "" is
	// the top host.
	Host(ctx context.Context, path string) (Driver, error)
}

// HostAt returns the driver of the host inside the container at path
// below d: d itself for "". A driver that is not a Nester reaches no
// nested host: that is an error matching errdefs.ErrNotImplemented.
func HostAt(ctx context.Context, d Driver, path string) (Driver, error) {
	if path == "" {
		return d, nil
	}
	n, ok := d.(Nester)
	if !ok {
		return nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s: this driver does not reach nested hosts (see driver/nested)", path)
	}
	return n.Host(ctx, path)
}
