package cli_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/drivertest"
	"github.com/lxkit/lxkit/testkit/testhost"
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

// With no daemon at the socket, a delete is an error, never the success
// of an instance already gone: lxc 5.0.2 says "connect: no such file or
// directory" and incus 6.0.4 "doesn't appear to be started", neither of
// which is "not found".
func TestNoDaemonIsNoDelete(t *testing.T) {
	testhost.Integration(t)
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), h.Name, "unix.socket")
			d := cli.Open(local.New(), cli.ForSocket(sock))
			err := d.Delete(context.Background(), "web")
			if !errors.Is(err, errdefs.ErrUnavailable) {
				t.Errorf("delete with no daemon at %s: %v; want ErrUnavailable", sock, err)
			}
		})
	}
}
