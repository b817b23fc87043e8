package cli_test

import (
	"bytes"
	"context"
	"path"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/drivertest"
	"github.com/lxkit/lxkit/internal/testhost"
	"github.com/lxkit/lxkit/internal/testsshd"
	"github.com/lxkit/lxkit/transport"
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
	h := testhost.Hosts()[0]
	if h.Name != "lxd" {
		t.Skipf("the SSH driver test runs on LXD; LXKIT_TEST_HOSTS starts with %s", h.Name)
	}
	testhost.Connect(t, h) // skips, or fails under CI, when LXD is down
	srv := testsshd.Start(t)
	ctx := testhost.Context(t, time.Minute)
	tr, err := ssh.Dial(ctx, srv.Config())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.URL(), err)
	}
	t.Cleanup(func() { tr.Close() })
	opts := cli.Options{}
	if h.Socket != "/var/lib/lxd/unix.socket" {
		opts = cli.ForSocket(h.Socket)
	}
	d, err := cli.New(ctx, tr, opts)
	if err != nil {
		t.Fatalf("lxc over %s: %v", srv.URL(), err)
	}
	if d.Kind() != "lxd" {
		t.Fatalf("kind %q over %s; want lxd", d.Kind(), srv.URL())
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
	paths := cli.NewPaths(d)
	inner := path.Join(outer, testhost.Name("sshinner"))
	t.Cleanup(func() { _ = paths.Delete(context.Background(), inner) })
	must(t, "create inner", paths.Create(ctx, inner, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}))

	tr := paths.Transport(inner)
	out, err := transport.Run(ctx, tr, "cat", "/etc/hostname")
	if err != nil || out != path.Base(inner)+"\n" {
		t.Errorf("hostname two levels below the ssh host: %q %v", out, err)
	}
	data := bytes.Repeat([]byte("below ssh\x00\xff"), 100000)
	must(t, "write", transport.WriteBytes(ctx, tr, "/root/f", data, transport.FileOptions{Mode: 0o600}))
	back, err := transport.ReadAll(ctx, tr, "/root/f")
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("file round trip: %d bytes, %v", len(back), err)
	}
	must(t, "delete inner", paths.Delete(ctx, inner))
}
