package cli_test

import (
	"context"
	"path"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/testkit/drivertest"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/testkit/testsshd"
	"github.com/lxkit/lxkit/transport/ssh"
)

// overSSH returns the CLI driver of this machine's LXD reached the way a
// host whose API is not exposed is: `lxc` run over SSH, here through a
// private sshd on a loopback port (as --host ssh://USER@HOST:PORT does).
func overSSH(t *testing.T) *cli.Driver {
	t.Helper()
	if testing.Short() {
		t.Skip("integration")
	}
	h := testhost.Hosts()[0] // LXD, unless LXKIT_TEST_HOSTS says otherwise
	testhost.Connect(t, h)   // skips, or fails under CI, when it is down
	srv := testsshd.Start(t)
	ctx := testhost.Context(t, time.Minute)
	tr, err := ssh.Dial(ctx, srv.Config())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.URL(), err)
	}
	t.Cleanup(func() { tr.Close() })
	d, err := cli.New(ctx, tr, cli.ForSocket(h.Socket))
	if err != nil {
		t.Fatalf("%s over %s: %v", h.Name, srv.URL(), err)
	}
	if d.Kind() != h.Name {
		t.Fatalf("kind %q over %s; want %q", d.Kind(), srv.URL(), h.Name)
	}
	return d
}

// TestSSH runs the whole driver suite over SSH.
func TestSSH(t *testing.T) {
	drivertest.Run(t, overSSH(t))
}

// TestSSHNested: ssh host -> outer (LXD inside) -> inner, by path, with
// exec and a file round trip at the bottom.
func TestSSHNested(t *testing.T) {
	d := overSSH(t)
	outer := testhost.LaunchNested(t, d, "sshouter", testhost.NestImage)
	ctx := testhost.Context(t, patience)
	paths := nested.New(d)
	inner := path.Join(outer, testhost.Name("sshinner"))
	t.Cleanup(func() { _ = paths.Delete(context.Background(), inner) })
	must(t, "create inner", paths.Create(ctx, inner, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}))

	checkBottom(ctx, t, "two levels below the ssh host", paths.Transport(inner), path.Base(inner))
	must(t, "delete inner", paths.Delete(ctx, inner))
}
