package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
)

// Nested resolves a path of containers, "outer/middle/inner": every name
// but the last is a container with its own LXD (or Incus), reached with a
// CLI driver through the transport of the level above. It returns the
// driver of the last host and the name of the last container there. A
// path without "/" returns top itself.
func Nested(ctx context.Context, top driver.Driver, path string) (driver.Driver, string, error) {
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if err := driver.ValidateName(p); err != nil {
			return nil, "", errdefs.Wrap(errdefs.ErrInvalidArgument, err, "container path %q", path)
		}
	}
	d := top
	for i, hop := range parts[:len(parts)-1] {
		where := strings.Join(parts[:i+1], "/")
		next, err := New(ctx, d.Transport(hop), Options{Where: where})
		if err != nil {
			return nil, "", fmt.Errorf("reaching the LXD inside %s: %w", where, err)
		}
		d = next
	}
	return d, parts[len(parts)-1], nil
}
