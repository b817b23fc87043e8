package testhost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/nestimage"
)

// NestImage is the alias of the Debian image with LXD inside that `make
// nested-image` imports; inside it, LXD has the busybox Image too.
const NestImage = nestimage.Alias

// NestedTarball returns the cached nested image, for a test that imports
// it one level down, or fails (skips outside CI) when there is none.
func NestedTarball(t testing.TB) string {
	t.Helper()
	Integration(t)
	f, err := nestimage.Tarball()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return f
}

// LaunchNested creates a started container from image (NestImage, or any
// image built like it) with nesting on, deletes it after the test, and
// waits until the LXD inside is ready.
func LaunchNested(t testing.TB, d driver.Driver, prefix, image string) string {
	t.Helper()
	name := Name(prefix)
	ctx := Context(t, 5*time.Minute)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = d.Delete(ctx, name)
	})
	err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: image}, Config: nestimage.Config})
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) { // no nested image
			Unavailable(t, "%v", err)
		}
		t.Fatalf("create %s: %v", name, err)
	}
	if err := nestimage.WaitReady(ctx, d.Transport(name)); err != nil {
		t.Fatalf("LXD inside %s: %v", name, err)
	}
	return name
}

// CloudImage is the alias of the Debian image with cloud-init that `make
// cloudinit-image` imports: its templates seed cloud-init's NoCloud
// datasource from cloud-init.user-data (or user.user-data), and cloud-init
// runs under systemd at the first start.
const CloudImage = "cloudimage"
