package testhost

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/transport"
)

// NestImage is the alias of the Debian image with LXD inside that `make
// nested-image` imports; inside it, LXD has the busybox Image too.
const NestImage = "nestimage"

// NestedTarball returns the cached nested image, for a test that imports
// it one level down, or fails (skips outside CI) when there is none.
func NestedTarball(t testing.TB) string {
	t.Helper()
	files, _ := filepath.Glob("/var/cache/lxkit/nested-bookworm-lxd-v*.tar.zst")
	if len(files) == 0 {
		Unavailable(t, "no nested image in /var/cache/lxkit (run `make nested-image`)")
	}
	sort.Strings(files)
	return files[len(files)-1]
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
	err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: image},
		Config: map[string]string{"security.nesting": "true"}})
	if err != nil {
		if strings.Contains(err.Error(), "alias") {
			Unavailable(t, "%v", err)
		}
		t.Fatalf("create %s: %v", name, err)
	}
	if err := WaitNested(ctx, d.Transport(name)); err != nil {
		t.Fatalf("LXD inside %s: %v", name, err)
	}
	return name
}

// WaitNested waits until the LXD inside a nested container is ready.
func WaitNested(ctx context.Context, tr transport.Transport) error {
	for {
		out, err := transport.Run(ctx, tr, "/bin/sh", "-c",
			"if [ -e /run/lxkit-ready ]; then echo ready; elif [ -e /run/lxkit-failed ]; then cat /run/lxkit-failed; fi")
		switch {
		case err == nil && out == "ready\n":
			return nil
		case err == nil && out != "":
			return errors.New(strings.TrimSpace(out))
		case ctx.Err() != nil:
			return ctx.Err()
		}
		time.Sleep(250 * time.Millisecond)
	}
}
