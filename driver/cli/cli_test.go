package cli_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/drivertest"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
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

// TestCaptureSurvivesTmpCleanup: a captured command's output reaches the
// caller even when /tmp is emptied while it runs, as Debian's systemd does
// while a container boots (tmpfiles.d/tmp.conf "D /tmp"): ci83 lost the
// output of cloud-config's first command on a container just started.
// The command here empties /tmp itself, in a Debian container (which has
// /var/tmp) and in a busybox one (which has only /tmp, and keeps it).
func TestCaptureSurvivesTmpCleanup(t *testing.T) {
	testhost.Integration(t)
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			ctx := testhost.Context(t, 5*time.Minute)
			d, err := cli.New(ctx, local.New(), cli.ForSocket(h.Socket))
			if err != nil {
				testhost.Unavailable(t, "%s through its command: %v", h.Name, err)
			}
			deb := testhost.LaunchNested(t, d, "tmpclean", testhost.NestImage)
			res, err := d.Transport(deb).Exec(ctx, transport.Command{
				Args: transport.Shell("echo out; echo err >&2; rm -rf /tmp/.lxkit-* /tmp/* 2>/dev/null; true"), Capture: true})
			if err != nil || res.ExitCode != 0 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
				t.Fatalf("Debian, /tmp emptied meanwhile: %v, %+v", err, res)
			}
			// The same transport again, and a busybox container, whose
			// outputs go to /tmp.
			bb := testhost.Name("tmpbusybox")
			t.Cleanup(func() { _ = d.Delete(context.Background(), bb) })
			if err := d.Create(ctx, bb, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{deb, bb} {
				out, err := transport.Run(ctx, d.Transport(name), "echo", "again")
				if err != nil || out != "again\n" {
					t.Fatalf("%s: %q, %v", name, out, err)
				}
			}
		})
	}
}
