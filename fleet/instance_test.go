package fleet_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/spec"
	"github.com/lxkit/lxkit/testkit/testdrivers"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// eachDriver runs f for each daemon through each driver, in parallel.
var eachDriver = testdrivers.Each

// template writes a configuration and loads it.
func template(t *testing.T, content string) *spec.Template {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func instance(t *testing.T, tpl *spec.Template, name string) *spec.Spec {
	t.Helper()
	s, err := tpl.Instance(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(ctx context.Context, t *testing.T, tr transport.Transport, path string) string {
	t.Helper()
	r, err := tr.ReadFile(ctx, path)
	if err != nil {
		return "error: " + err.Error()
	}
	defer r.Close()
	data, _ := io.ReadAll(r)
	return string(data)
}

func write(ctx context.Context, t *testing.T, tr transport.Transport, path, content string) {
	t.Helper()
	if err := tr.WriteFile(ctx, path, strings.NewReader(content), transport.FileOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestInstanceLifecycle launches an instance with a volume, snapshots
// it, rolls back, rebuilds it (the volume's data stays, the root's
// goes), clones it and deletes everything.
func TestInstanceLifecycle(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 5*time.Minute)
		m := fleet.New(d)
		h := host.New(d.API())
		tpl := template(t, `image: `+testhost.Image+`
config:
  user.role: ${role}
properties:
  role: app
volumes:
  data: {path: /srv/data}
`)
		name, clone := testhost.Name("fl"), testhost.Name("flc")
		s, c := instance(t, tpl, name), instance(t, tpl, clone)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_ = m.Delete(ctx, s, fleet.DeleteOptions{Volumes: true})
			_ = m.Delete(ctx, c, fleet.DeleteOptions{Volumes: true})
		})
		for range 2 {
			if err := m.Launch(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		inst, err := d.Instance(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if inst.Config["user.role"] != "app" || inst.Config[fleet.KeyHash] != fleet.Hash(s) || inst.Devices["data"]["source"] != name+"-data" {
			t.Fatalf("launched: config %v devices %v", inst.Config, inst.Devices)
		}
		tr := d.Transport(name)
		write(ctx, t, tr, "/srv/data/keep", "v1")
		write(ctx, t, tr, "/root/scratch", "v1")

		if err := m.Snapshot(ctx, s, "snap0"); err != nil {
			t.Fatal(err)
		}
		write(ctx, t, tr, "/srv/data/keep", "v2")
		write(ctx, t, tr, "/root/scratch", "v2")
		if err := m.Rollback(ctx, s, "snap0", driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if got := read(ctx, t, tr, "/srv/data/keep") + "," + read(ctx, t, tr, "/root/scratch"); got != "v1,v1" {
			t.Fatalf("after rollback: %s", got)
		}
		if st, _ := d.Status(ctx, name); st != driver.StatusRunning {
			t.Errorf("after rollback: %s, want running again", st)
		}

		if err := m.Clone(ctx, s, c, "snap0"); err != nil {
			t.Fatal(err)
		}
		ct := d.Transport(clone)
		if got := read(ctx, t, ct, "/srv/data/keep") + "," + read(ctx, t, ct, "/root/scratch"); got != "v1,v1" {
			t.Fatalf("clone: %s", got)
		}
		ci, err := d.Instance(ctx, clone)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Devices["data"]["source"] != clone+"-data" {
			t.Fatalf("clone's devices: %v", ci.Devices)
		}
		write(ctx, t, ct, "/srv/data/keep", "clone")
		if got := read(ctx, t, tr, "/srv/data/keep"); got != "v1" {
			t.Errorf("the clone's volume is the original's: %s", got)
		}

		if err := m.Rebuild(ctx, s, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if got := read(ctx, t, tr, "/srv/data/keep"); got != "v1" {
			t.Errorf("volume after rebuild: %s", got)
		}
		if got := read(ctx, t, tr, "/root/scratch"); !strings.HasPrefix(got, "error:") {
			t.Errorf("root after rebuild: %q, want it gone", got)
		}

		if err := m.Delete(ctx, s, fleet.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if ok, err := h.Volumes("default").Exists(ctx, name+"-data"); !ok || err != nil {
			t.Fatalf("volume after delete without volumes: %v %v", ok, err)
		}
		if err := m.Delete(ctx, s, fleet.DeleteOptions{Volumes: true}); err != nil {
			t.Fatal(err)
		}
		if ok, err := h.Volumes("default").Exists(ctx, name+"-data"); ok || err != nil {
			t.Fatalf("volume after delete with volumes: %v %v", ok, err)
		}
	})
}
