package host_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestConcurrentCreates makes the same profile, custom volume, instance
// snapshot and volume snapshot from 8 callers at once: each caller
// succeeds, one of them made it, none returns while the daemon is still
// making it (the object's record shows first), and the snapshots
// restore. A create still running when a caller returns is another
// caller's late attempt, bound to fail (LXD 5.0.2 runs a snapshot
// POST's operation before it finds the name taken): it is a fault only
// if it succeeds, for then it was the maker.
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
					maker := succeeded(ctx, t, h, busy)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					if err == nil && len(maker) > 0 {
						t.Errorf("%s: returned (made by this caller: %v) while the daemon was still making it: %v", what, ok, maker)
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
func making(ctx context.Context, t *testing.T, h *host.Host, name string) []api.Operation {
	ops, err := h.Operations(ctx)
	if err != nil {
		t.Error(err)
		return nil
	}
	var busy []api.Operation
	for _, op := range ops {
		if op.StatusCode != api.OperationRunning || !(strings.HasPrefix(op.Description, "Creating") || strings.HasPrefix(op.Description, "Snapshotting")) {
			continue
		}
		if names(op, name) {
			busy = append(busy, op)
		}
	}
	return busy
}

func names(op api.Operation, name string) bool {
	for _, rs := range op.Resources {
		for _, r := range rs {
			if strings.Contains(r, name) {
				return true
			}
		}
	}
	return false
}

// succeeded waits for the operations and lists those that succeeded.
func succeeded(ctx context.Context, t *testing.T, h *host.Host, ops []api.Operation) []string {
	var ok []string
	for _, op := range ops {
		if err := h.AwaitOperation(ctx, op.ID); err != nil {
			t.Error(err)
			continue
		}
		end, err := h.Operation(ctx, op.ID)
		if err != nil {
			t.Errorf("operation %s (%s) gone once ended: %v", op.ID, op.Description, err)
			continue
		}
		if end.StatusCode == api.OperationSuccess {
			ok = append(ok, fmt.Sprintf("%s %v", end.Description, end.Resources))
		}
	}
	return ok
}
