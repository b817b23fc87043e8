package host_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/testhost"
)

// TestConcurrentCreates makes the same profile, custom volume, instance
// snapshot and volume snapshot from 8 callers at once: each caller
// succeeds, one of them made it, none returns while the daemon is still
// making it (the object's record shows first), and the snapshots
// restore.
func TestConcurrentCreates(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 3*time.Minute)
		name := testhost.Name("conc")
		if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, NoStart: true}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			_ = d.Delete(ctx, name)
			_ = h.Profiles().Delete(ctx, name)
			_ = h.VolumeSnapshots("default", name).Delete(ctx, "s0")
			_ = h.Volumes("default").Delete(ctx, name)
		})
		at8 := func(what string, make func() (bool, error)) {
			t.Helper()
			var wg sync.WaitGroup
			var mu sync.Mutex
			made := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := make()
					busy := making(ctx, t, h, name)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					if err == nil && len(busy) > 0 {
						t.Errorf("%s: made (by this caller: %v) while the daemon was still at it: %v", what, ok, busy)
					}
					if ok {
						made++
					}
				}()
			}
			wg.Wait()
			if made != 1 {
				t.Errorf("%s: made by %d callers; want 1", what, made)
			}
		}
		at8("profile", func() (bool, error) { return h.Profiles().Make(ctx, api.ProfilesPost{Name: name}) })
		at8("volume", func() (bool, error) {
			return h.Volumes("default").Make(ctx, api.StorageVolumesPost{Name: name})
		})
		at8("snapshot", func() (bool, error) { return h.Snapshots(name).Make(ctx, api.InstanceSnapshotsPost{Name: "s0"}) })
		at8("volume snapshot", func() (bool, error) {
			return h.VolumeSnapshots("default", name).Make(ctx, api.InstanceSnapshotsPost{Name: "s0"})
		})
		if err := h.RestoreSnapshot(ctx, name, "s0", false); err != nil {
			t.Errorf("restoring the snapshot: %v", err)
		}
		if err := h.RestoreVolumeSnapshot(ctx, "default", name, "s0"); err != nil {
			t.Errorf("restoring the volume snapshot: %v", err)
		}
	})
}

// making lists the daemon's running operations that create or snapshot
// something named name.
func making(ctx context.Context, t *testing.T, h *host.Host, name string) []string {
	ops, err := h.Operations(ctx)
	if err != nil {
		t.Error(err)
		return nil
	}
	var busy []string
	for _, op := range ops {
		if op.StatusCode != api.OperationRunning || !(strings.HasPrefix(op.Description, "Creating") || strings.HasPrefix(op.Description, "Snapshotting")) {
			continue
		}
		for _, rs := range op.Resources {
			for _, r := range rs {
				if strings.Contains(r, name) {
					busy = append(busy, op.Description+" "+r)
				}
			}
		}
	}
	return busy
}
