package drivertest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// testCopySource makes containers as copies of a template's snapshot
// (CreateOptions.Source): the root is the snapshot's, the configuration,
// devices and profiles are the copy's own alone, a second create
// converges, and a missing source or one given beside an image is refused
// before anything is made.
func testCopySource(t *testing.T, d driver.Driver) {
	ctx := testhost.Context(t, patience)
	tpl := testhost.Name("tpl")
	t.Cleanup(func() { _ = d.Delete(context.Background(), tpl) })
	must(t, "create template", d.Create(ctx, tpl, driver.CreateOptions{
		Image:   driver.Image{Alias: testhost.Image},
		Config:  map[string]string{"user.template": "yes"},
		Devices: map[string]map[string]string{"tmpl-scratch": {"type": "disk", "source": "/tmp", "path": "/mnt/scratch"}},
	}))
	write(t, d, tpl, "/root/marker", "snap1")
	h := host.New(d.API())
	must(t, "snapshot", h.Snapshots(tpl).Create(ctx, api.InstanceSnapshotsPost{Name: "snap1"}))
	write(t, d, tpl, "/root/marker", "after")

	cp := testhost.Name("copy")
	t.Cleanup(func() { _ = d.Delete(context.Background(), cp) })
	var made bool
	opts := driver.CreateOptions{Source: tpl + "/snap1", Config: map[string]string{"user.copy": "1"}, Made: &made}
	must(t, "create copy", d.Create(ctx, cp, opts))
	if !made {
		t.Error("the first create of the copy says it made nothing")
	}
	wantStatus(t, d, cp, driver.StatusRunning)
	if got := read(t, d, cp, "/root/marker"); got != "snap1" {
		t.Errorf("the copy's /root/marker = %q; want the snapshot's, snap1", got)
	}
	inst, err := d.Instance(ctx, cp)
	must(t, "instance", err)
	if inst.Config["user.copy"] != "1" || inst.Config["user.template"] != "" {
		t.Errorf("the copy's config = %v; want user.copy and not the template's user.template", inst.Config)
	}
	if _, ok := inst.Devices["tmpl-scratch"]; ok {
		t.Errorf("the copy has the template's device: %v", inst.Devices)
	}
	if len(inst.Config["volatile.base_image"]) != 64 {
		t.Errorf("the copy lost the daemon's volatile.base_image: %v", inst.Config)
	}
	must(t, "create the copy again", d.Create(ctx, cp, opts))
	if made {
		t.Error("a create of an existing copy says it made it")
	}

	bad := testhost.Name("nocopy")
	t.Cleanup(func() { _ = d.Delete(context.Background(), bad) })
	for _, src := range []string{tpl + "/no-such-snap", testhost.Name("nosuch") + "/snap1"} {
		err := d.Create(ctx, bad, driver.CreateOptions{Source: src})
		if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), src) {
			t.Errorf("create from missing %s: %v; want ErrNotFound naming it", src, err)
		}
	}
	err = d.Create(ctx, bad, driver.CreateOptions{Source: tpl + "/snap1", Image: driver.Image{Alias: testhost.Image}})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("create from an image and a source: %v; want ErrInvalidArgument", err)
	}
	if ok, err := driver.Exists(ctx, d, bad); err != nil || ok {
		t.Errorf("failed creates left %s behind (exists=%v, err=%v)", bad, ok, err)
	}
}

func write(t *testing.T, d driver.Driver, name, path, text string) {
	t.Helper()
	ctx := testhost.Context(t, patience)
	must(t, "write "+path, d.Transport(name).WriteFile(ctx, path, strings.NewReader(text), transport.FileOptions{}))
}

func read(t *testing.T, d driver.Driver, name, path string) string {
	t.Helper()
	ctx := testhost.Context(t, patience)
	r, err := d.Transport(name).ReadFile(ctx, path)
	must(t, "read "+path, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	must(t, "read "+path, err)
	return string(b)
}
