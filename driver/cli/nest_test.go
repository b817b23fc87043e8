package cli_test

import (
	"bytes"
	"context"
	"path"
	"testing"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/drivertest"
	"github.com/lxkit/lxkit/testkit/nestimage"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// TestNested runs the whole driver suite two levels down, on the LXD
// inside a container of each daemon (so also LXD inside Incus): host
// (REST) -> outer -> CLI driver -> inner containers.
func TestNested(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			top := rest.New(testhost.Connect(t, h))
			outer := testhost.LaunchNested(t, top, "outer", testhost.NestImage)
			ctx := testhost.Context(t, patience)
			d, err := cli.New(ctx, top.Transport(outer), cli.Options{Where: outer})
			if err != nil {
				t.Fatal(err)
			}
			if k := d.Kind(); k != "lxd" {
				t.Fatalf("inside %s: kind %q", outer, k)
			}
			drivertest.Run(t, d)
		})
	}
}

// TestThreeLevels: host -> outer -> middle -> inner, exec and a file
// round trip at the bottom.
func TestThreeLevels(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	h := testhost.Hosts()[0]
	top := rest.New(testhost.Connect(t, h))
	tarball := testhost.NestedTarball(t)
	outer := testhost.LaunchNested(t, top, "outer3", testhost.NestImage)
	ctx := testhost.Context(t, patience)

	// The middle level needs the nested image inside outer's LXD.
	must(t, "import", nestimage.Import(ctx, top.Transport(outer), tarball))
	l1, _, err := nested.New(top).Resolve(ctx, outer+"/x")
	must(t, "level 1", err)
	middle := testhost.LaunchNested(t, l1, "middle", testhost.NestImage)

	l2, inner, err := nested.New(top).Resolve(ctx, path.Join(outer, middle, "inner"))
	must(t, "level 2", err)
	t.Cleanup(func() { _ = l2.Delete(context.Background(), inner) })
	must(t, "create inner", l2.Create(ctx, inner, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}))

	checkBottom(ctx, t, "level 3", l2.Transport(inner), inner)
	must(t, "delete inner", l2.Delete(ctx, inner))
	if ok, err := driver.Exists(ctx, l2, inner); err != nil || ok {
		t.Errorf("inner still exists after delete: %v %v", ok, err)
	}
}

// checkBottom checks a container at the bottom of a chain of levels: its
// hostname, an exit code, and a binary file's round trip.
func checkBottom(ctx context.Context, t *testing.T, where string, tr transport.Transport, hostname string) {
	t.Helper()
	out, err := transport.Run(ctx, tr, "cat", "/etc/hostname")
	if err != nil || out != hostname+"\n" {
		t.Errorf("hostname %s: %q %v", where, out, err)
	}
	res, err := tr.Exec(ctx, transport.Command{Args: transport.Shell("exit 7")})
	if err != nil || res.ExitCode != 7 {
		t.Errorf("exit code %s: %v %v", where, res, err)
	}
	data := bytes.Repeat([]byte(where+"\x00\xff"), 100000)
	must(t, "write", transport.WriteBytes(ctx, tr, "/root/f", data, transport.FileOptions{Mode: 0o600}))
	back, err := transport.ReadAll(ctx, tr, "/root/f")
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("file round trip %s: %d bytes, %v", where, len(back), err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
