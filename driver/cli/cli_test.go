package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/drivertest"
	"github.com/lxkit/lxkit/internal/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

// TestDriver runs the shared driver suite on each real daemon, through
// the daemon's own command run on this machine.
const patience = 10 * time.Minute

func TestDriver(t *testing.T) {
	testhost.Integration(t)
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d, err := cli.New(ctx, local.New(), cli.ForSocket(h.Socket))
			if err != nil {
				testhost.Unavailable(t, "%s through its command: %v", h.Name, err)
			}
			if d.Kind() != h.Name {
				t.Fatalf("kind %q; want %q", d.Kind(), h.Name)
			}
			drivertest.Run(t, d)
		})
	}
}
