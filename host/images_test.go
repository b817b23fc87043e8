package host_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/local"
)

func TestImageAliases(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, time.Minute)
		images := h.Images()
		fp, err := images.Resolve(ctx, testhost.Image)
		if err != nil || len(fp) != 64 {
			t.Fatalf("Resolve(%s) = %q, %v", testhost.Image, fp, err)
		}
		for _, ref := range []string{fp, fp[:12], strings.ToUpper(fp[:12])} {
			if got, err := images.Resolve(ctx, ref); err != nil || got != fp {
				t.Errorf("Resolve(%s) = %q, %v", ref, got, err)
			}
		}
		mustClass(t, "missing", func() error { _, err := images.Get(ctx, "lxkit-no-such-image"); return err }(), errdefs.ErrNotFound, "image lxkit-no-such-image not found")
		mustClass(t, "slash", func() error { _, err := images.Get(ctx, "a/b"); return err }(), errdefs.ErrInvalidArgument)

		alias := testhost.Name("alias")
		t.Cleanup(func() {
			_ = images.DeleteAlias(context.Background(), alias)
			_ = images.DeleteAlias(context.Background(), alias+"-b")
		})
		for range 2 {
			if err := images.CreateAlias(ctx, alias, testhost.Image, "by a test"); err != nil {
				t.Fatal(err)
			}
		}
		if img, err := images.Get(ctx, alias); err != nil || img.Fingerprint != fp {
			t.Fatalf("Get(%s): %+v, %v", alias, img, err)
		}
		nest, err := images.Resolve(ctx, testhost.NestImage)
		if err != nil {
			t.Fatal(err)
		}
		mustClass(t, "alias of another image", images.CreateAlias(ctx, alias, nest, ""), errdefs.ErrConflict, "already names image "+fp[:12])
		if err := images.MoveAlias(ctx, alias, nest); err != nil {
			t.Fatal(err)
		}
		if got, _ := images.Resolve(ctx, alias); got != nest {
			t.Errorf("after MoveAlias: %s", got)
		}
		if err := images.RenameAlias(ctx, alias, alias+"-b"); err != nil {
			t.Fatal(err)
		}
		mustClass(t, "rename missing", images.RenameAlias(ctx, alias, alias+"-c"), errdefs.ErrNotFound)
		mustClass(t, "rename onto existing", images.RenameAlias(ctx, alias+"-b", testhost.Image), errdefs.ErrConflict)
		list, err := images.Aliases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range list {
			found = found || (a.Name == alias+"-b" && a.Target == nest)
		}
		if !found {
			t.Errorf("aliases lack %s-b -> nestimage: %+v", alias, list)
		}
		for range 2 {
			if err := images.DeleteAlias(ctx, alias+"-b"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := images.Get(ctx, nest); err != nil {
			t.Errorf("deleting the alias touched the image: %v", err)
		}
	})
}

// TestPublishCopyDelete publishes a container as an image on one daemon,
// copies it to the other (which pulls it over HTTPS), launches it there
// and finds the container's file, then deletes it on both. REST copies
// LXD to Incus, the CLI Incus to LXD.
func TestPublishCopyDelete(t *testing.T) {
	testhost.Integration(t)
	hosts := testhost.Hosts()
	if len(hosts) != 2 {
		t.Fatalf("need two test daemons, have %d", len(hosts))
	}
	var mu sync.Mutex // the two copies share the daemons' image stores
	for i, kind := range []string{"rest", "cli"} {
		src, dst := hosts[i], hosts[1-i]
		t.Run(kind+"/"+src.Name+"-to-"+dst.Name, func(t *testing.T) {
			t.Parallel()
			ctx := testhost.Context(t, 5*time.Minute)
			testhost.ListenHTTPS(t, src)
			open := func(th testhost.Host) driver.Driver {
				if kind == "rest" {
					return rest.New(testhost.Connect(t, th))
				}
				d, err := cli.New(ctx, local.New(), cli.ForSocket(th.Socket))
				if err != nil {
					testhost.Unavailable(t, "%s: %v", th.Name, err)
				}
				return d
			}
			sd, dd := open(src), open(dst)
			sh, dh := host.New(sd.API()), host.New(dd.API())

			inst := testhost.Name("pub")
			t.Cleanup(func() { _ = sd.Delete(context.Background(), inst) })
			if err := sd.Create(ctx, inst, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
				t.Fatal(err)
			}
			if err := sd.Transport(inst).WriteFile(ctx, "/unique", strings.NewReader(inst), transport.FileOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := sd.Stop(ctx, inst, driver.StopOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
			var reports []host.Progress
			alias := inst + "-img"
			fp, err := sh.Images().Publish(ctx, inst, host.PublishOptions{
				Aliases: []string{alias}, Properties: map[string]string{"description": "lxkit test"},
				Progress: func(p host.Progress) { reports = append(reports, p) },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = sh.Images().Delete(context.Background(), fp)
				_ = dh.Images().Delete(context.Background(), fp)
			})
			if len(reports) == 0 || !reports[len(reports)-1].Done {
				t.Errorf("publish progress: %+v, want a last report with Done", reports)
			}
			img, err := sh.Images().Get(ctx, alias)
			if err != nil || img.Fingerprint != fp || img.Properties["description"] != "lxkit test" {
				t.Fatalf("published image: %+v, %v", img, err)
			}

			mu.Lock()
			defer mu.Unlock()
			reports = nil
			for range 2 { // the second copy finds it there
				got, err := sh.Images().CopyTo(ctx, dh, alias, host.CopyOptions{
					Aliases:  []string{alias},
					Progress: func(p host.Progress) { reports = append(reports, p) },
				})
				if err != nil || got != fp {
					t.Fatalf("CopyTo: %q, %v", got, err)
				}
			}
			if len(reports) == 0 || !reports[len(reports)-1].Done {
				t.Errorf("copy progress: %+v, want a last report with Done", reports)
			}
			t.Logf("copy progress: %+v", reports)

			launched := inst + "-copy"
			t.Cleanup(func() { _ = dd.Delete(context.Background(), launched) })
			if err := dd.Create(ctx, launched, driver.CreateOptions{Image: driver.Image{Alias: alias}}); err != nil {
				t.Fatal(err)
			}
			if got, err := readAll(ctx, dd.Transport(launched), "/unique"); err != nil || got != inst {
				t.Fatalf("the copy's /unique: %q, %v", got, err)
			}
			if err := dd.Delete(ctx, launched); err != nil {
				t.Fatal(err)
			}
			for _, h := range []*host.Host{sh, dh} {
				for range 2 {
					if err := h.Images().Delete(ctx, fp); err != nil {
						t.Fatal(err)
					}
				}
				mustClass(t, "deleted image", func() error { _, err := h.Images().Get(ctx, alias); return err }(), errdefs.ErrNotFound)
			}
		})
	}
}
