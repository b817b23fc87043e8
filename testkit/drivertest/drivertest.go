// Package drivertest is the behaviour suite that every Driver and its
// transports must pass, run against real daemons. Each driver's tests call
// Run with a way to make the driver; the assertions are the same for all.
package drivertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// patience bounds each test's calls. It is generous: on a loaded 2-core
// machine LXD 5.0 has been seen to take over a minute to start a container.
const patience = 4 * time.Minute

// Run runs the whole suite against d. Subtests run in parallel, each on
// its own containers.
func Run(t *testing.T, d driver.Driver) {
	t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testLifecycle(t, d) })
	t.Run("CreateFailures", func(t *testing.T) { t.Parallel(); testCreateFailures(t, d) })
	t.Run("Update", func(t *testing.T) { t.Parallel(); testUpdate(t, d) })
	t.Run("CopySource", func(t *testing.T) { t.Parallel(); testCopySource(t, d) })
	t.Run("StateAndWait", func(t *testing.T) { t.Parallel(); testStateAndWait(t, d) })
	t.Run("Transport", func(t *testing.T) { t.Parallel(); testTransport(t, d) })
	t.Run("Files", func(t *testing.T) { t.Parallel(); testFiles(t, d) })
	t.Run("Folders", func(t *testing.T) { t.Parallel(); testFolders(t, d) })
}

// launch creates a started container for one test and deletes it after.
func launch(t *testing.T, d driver.Driver, prefix string) string {
	t.Helper()
	name := testhost.Name(prefix)
	ctx := testhost.Context(t, patience)
	t.Cleanup(func() { _ = d.Delete(context.Background(), name) })
	if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return name
}

func wantStatus(t *testing.T, d driver.Driver, name, want string) {
	t.Helper()
	got, err := d.Status(context.Background(), name)
	if err != nil || got != want {
		t.Fatalf("status of %s = %q, %v; want %q", name, got, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testLifecycle(t *testing.T, d driver.Driver) {
	ctx := testhost.Context(t, patience)
	name := launch(t, d, "life")
	wantStatus(t, d, name, driver.StatusRunning)

	// Convergent: asking for what holds is success.
	must(t, "create again", d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}))
	must(t, "start running", d.Start(ctx, name))

	start := time.Now()
	must(t, "graceful stop", d.Stop(ctx, name, driver.StopOptions{Timeout: 30 * time.Second}))
	// An init deaf to the signal would take the resends (1+2+4+8 s) and
	// more; a stop lasts as long as the daemon's stop hook too, which
	// took Incus 6.0.4 up to 15 s on a machine at load 30.
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("graceful stop took %s: the image's init did not halt on the stop signal", took)
	}
	wantStatus(t, d, name, driver.StatusStopped)
	must(t, "stop stopped", d.Stop(ctx, name, driver.StopOptions{}))

	must(t, "start", d.Start(ctx, name))
	wantStatus(t, d, name, driver.StatusRunning)
	must(t, "force stop", d.Stop(ctx, name, driver.StopOptions{Force: true}))
	wantStatus(t, d, name, driver.StatusStopped)
	must(t, "start again", d.Start(ctx, name))

	exists, err := driver.Exists(ctx, d, name)
	if err != nil || !exists {
		t.Fatalf("Exists(%s) = %v, %v", name, exists, err)
	}
	list, err := d.List(ctx)
	must(t, "list", err)
	if !containsInstance(list, name) {
		t.Errorf("List does not contain %s", name)
	}

	inst, err := d.Instance(ctx, name)
	must(t, "instance", err)
	img := inst.Config["volatile.base_image"]
	if len(img) != 64 {
		t.Fatalf("volatile.base_image = %q; want a fingerprint", img)
	}

	must(t, "delete running", d.Delete(ctx, name))
	if _, err := d.Status(ctx, name); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("status after delete: %v; want ErrNotFound", err)
	} else if !strings.Contains(err.Error(), name) {
		t.Errorf("not-found error %q does not name the container", err)
	}
	must(t, "delete missing", d.Delete(ctx, name))
	if err := d.Start(ctx, name); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("start missing: %v; want ErrNotFound", err)
	}
	if exists, err := driver.Exists(ctx, d, name); err != nil || exists {
		t.Errorf("Exists after delete = %v, %v", exists, err)
	}

	// A container created without starting it, from a fingerprint prefix.
	stopped := testhost.Name("nostart")
	t.Cleanup(func() { _ = d.Delete(context.Background(), stopped) })
	must(t, "create no-start", d.Create(ctx, stopped, driver.CreateOptions{
		Image: driver.Image{Fingerprint: img[:12]}, NoStart: true}))
	wantStatus(t, d, stopped, driver.StatusStopped)
	must(t, "delete stopped", d.Delete(ctx, stopped))

	// An image chosen by its properties: one of this test's own, with a
	// property no other image has (a user's host holds other busybox
	// images, and images published from containers inherit properties).
	own := testhost.NewImageFiles(t, t.TempDir(), "props", false)
	images := host.New(d.API()).Images()
	t.Cleanup(func() { _ = images.Delete(context.Background(), own.Fingerprint) })
	_, err = images.Import(ctx, own.Files, host.ImportOptions{})
	must(t, "import", err)
	byProps := testhost.Name("props")
	t.Cleanup(func() { _ = d.Delete(context.Background(), byProps) })
	must(t, "create from properties", d.Create(ctx, byProps, driver.CreateOptions{
		Image: driver.Image{Properties: map[string]string{"os": "busybox", "lxkit.test": own.Unique}}, NoStart: true}))
	inst, err = d.Instance(ctx, byProps)
	must(t, "instance", err)
	if inst.Config["volatile.base_image"] != own.Fingerprint {
		t.Errorf("created from %q; want the test's own image %s", inst.Config["volatile.base_image"], own.Fingerprint)
	}
}

func containsInstance(list []api.Instance, name string) bool {
	for _, i := range list {
		if i.Name == name {
			return true
		}
	}
	return false
}
