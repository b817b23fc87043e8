package fleet_test

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// TestTemplateClonesDiskUse measures what 10 copies of one template's
// snapshot (driver.CreateOptions.Source, as origin: makes them) cost on
// the btrfs pool "cow" that make hosts adds, and on the dir pool
// "default": the bytes each pool reports used, before and after. The
// template holds blobSize bytes of random data beside its 1 MB busybox
// root. On btrfs the copies are snapshots of the template's subvolume and
// must cost less than a quarter of ten full copies; dir copies every
// file. (A dir pool reports the host file system's usage, which the
// other tests and processes of the machine change meanwhile: its figure
// is reported, not checked.) One daemon at a time, for the dir figure.
func TestTemplateClonesDiskUse(t *testing.T) {
	const clones, blobSize = 10, 32 << 20
	for _, th := range testhost.Hosts() {
		t.Run(th.Name, func(t *testing.T) {
			d := rest.New(testhost.Connect(t, th))
			h := host.New(d.API())
			ctx := testhost.Context(t, 10*time.Minute)
			cow, err := h.StoragePools().Get(ctx, "cow")
			if err != nil {
				testhost.Unavailable(t, "no storage pool cow on %s (make hosts adds it): %v", th.Name, err)
			}
			if cow.Driver != "btrfs" {
				t.Fatalf("storage pool cow has driver %s; want btrfs", cow.Driver)
			}
			for _, pool := range []string{"cow", "default"} {
				tpl := testhost.Name("cowt")
				names := []string{tpl}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
					defer cancel()
					for _, n := range names {
						_ = d.Delete(ctx, n)
					}
				})
				root := map[string]map[string]string{"root": {"type": "disk", "path": "/", "pool": pool}}
				must(t, d.Create(ctx, tpl, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Devices: root}))
				res, err := d.Transport(tpl).Exec(ctx, transport.Command{Args: transport.Shell(fmt.Sprintf("head -c %d /dev/urandom > /root/blob && sync", blobSize))})
				must(t, err)
				if res.ExitCode != 0 {
					t.Fatalf("writing the template's data: exit %d: %s", res.ExitCode, res.Stderr)
				}
				must(t, h.Snapshots(tpl).Create(ctx, api.InstanceSnapshotsPost{Name: "s1"}))
				before := poolUsed(ctx, t, h, pool)
				start := time.Now()
				for i := range clones {
					name := fmt.Sprintf("%s-%d", tpl, i)
					names = append(names, name)
					must(t, d.Create(ctx, name, driver.CreateOptions{Source: tpl + "/s1", Devices: root, NoStart: true}))
				}
				took := time.Since(start)
				after := poolUsed(ctx, t, h, pool)
				grown := int64(after) - int64(before)
				driverName := cow.Driver
				if pool != "cow" {
					driverName = "dir"
				}
				t.Logf("figure: %s: %d clones of a template with %d MiB of data on pool %s (%s): pool used %d -> %d bytes, %+.1f MiB (%.2f of %d full copies), made in %.1f s",
					th.Name, clones, blobSize>>20, pool, driverName, before, after, float64(grown)/(1<<20), float64(grown)/float64(clones*blobSize), clones, took.Seconds())
				if pool == "default" {
					// What the clones' files take, apart from the rest of
					// the file system: on dir, the pool's directories.
					var du int64
					for _, n := range names[1:] {
						du += diskUsage(t, filepath.Join(filepath.Dir(th.Socket), "storage-pools", pool, "containers", n))
					}
					t.Logf("figure: %s: the same %d clones on pool %s (dir) hold %.1f MiB of blocks in their directories (%.2f of %d full copies)",
						th.Name, clones, pool, float64(du)/(1<<20), float64(du)/float64(clones*blobSize), clones)
					if du < clones*blobSize {
						t.Errorf("%d clones on dir hold %d bytes: less than %d copies of the template's %d MiB, so not full copies", clones, du, clones, blobSize>>20)
					}
				}
				if pool == "cow" && grown > clones*blobSize/4 {
					t.Errorf("%d clones on btrfs took %d bytes: more than a quarter of %d full copies of the template's %d MiB", clones, grown, clones, blobSize>>20)
				}
			}
		})
	}
}

// poolUsed is the space a pool reports used, once what was written has
// reached the disk.
func poolUsed(ctx context.Context, t *testing.T, h *host.Host, pool string) uint64 {
	t.Helper()
	syscall.Sync()
	r, err := h.StoragePoolResources(ctx, pool)
	must(t, err)
	return r.Space.Used
}

// diskUsage is what the files under dir take on disk, as du counts it.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	must(t, err)
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
