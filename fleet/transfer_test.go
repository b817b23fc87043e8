package fleet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestRename: an instance and the volume named after it are renamed
// together; one that differs only in names is recorded as made by the
// new Spec (nothing for Plan to do), one whose config takes the name is
// not. A rename cut short after the volume's device was detached is
// finished by the next one; a running instance is refused untouched.
func TestRename(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 5*time.Minute)
		m := fleet.New(d)
		h := host.New(d.API())
		tpl := template(t, "image: "+testhost.Image+"\nvolumes:\n  data: {path: /srv/data}\n")
		named := template(t, "image: "+testhost.Image+"\nconfig: {user.me: \"${instance}\"}\nvolumes:\n  data: {path: /srv/data}\n")
		a, b, c := testhost.Name("rn"), testhost.Name("rnb"), testhost.Name("rnc")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for _, n := range []string{a, b, c} {
				_ = m.Delete(ctx, instance(t, tpl, n), fleet.DeleteOptions{Volumes: true})
			}
		})
		if err := m.Launch(ctx, instance(t, tpl, a)); err != nil {
			t.Fatal(err)
		}
		write(ctx, t, d.Transport(a), "/srv/data/keep", "v1")
		err := m.Rename(ctx, instance(t, tpl, a), instance(t, tpl, b))
		if !errors.Is(err, errdefs.ErrPreconditionFailed) {
			t.Fatalf("rename of a running instance: %v; want refused", err)
		}
		if err := d.Stop(ctx, a, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if err := m.Rename(ctx, instance(t, tpl, a), instance(t, tpl, b)); err != nil {
			t.Fatal(err)
		}
		inst, err := d.Instance(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if inst.Devices["data"]["source"] != b+"-data" || inst.Config[fleet.KeyHash] != fleet.Hash(instance(t, tpl, b)) {
			t.Errorf("renamed: devices %v, hash %s; want %s-data and the new Spec's hash", inst.Devices, inst.Config[fleet.KeyHash], b)
		}
		if ok, _ := h.Volumes("default").Exists(ctx, a+"-data"); ok {
			t.Errorf("volume %s-data is still there", a)
		}

		// Cut short: the instance renamed and the device detached, the
		// volume not yet renamed.
		if err := h.RenameInstance(ctx, b, c); err != nil {
			t.Fatal(err)
		}
		if err := d.Update(ctx, c, driver.UpdateOptions{Devices: map[string]map[string]string{"data": nil}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Rename(ctx, instance(t, tpl, b), instance(t, tpl, c)); err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got := read(ctx, t, d.Transport(c), "/srv/data/keep"); got != "v1" {
			t.Errorf("after the rename was finished: %q", got)
		}
		if err := d.Stop(ctx, c, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}

		// A config that takes the name: the hash stays the old Spec's.
		if err := d.Update(ctx, c, driver.UpdateOptions{Config: map[string]string{fleet.KeyHash: fleet.Hash(instance(t, named, c)), "user.me": c}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Rename(ctx, instance(t, named, c), instance(t, named, a)); err != nil {
			t.Fatal(err)
		}
		if inst, err = d.Instance(ctx, a); err != nil || inst.Config[fleet.KeyHash] != fleet.Hash(instance(t, named, c)) || inst.Devices["data"]["source"] != a+"-data" {
			t.Errorf("renamed with a named config: %v, %v", inst, err)
		}
		// Again: done already.
		if err := m.Rename(ctx, instance(t, named, c), instance(t, named, a)); err != nil {
			t.Errorf("again: %v", err)
		}
	})
}
