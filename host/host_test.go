package host_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/testkit/testdrivers"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// eachDriver runs f for each daemon through each driver, in parallel.
func eachDriver(t *testing.T, f func(t *testing.T, d driver.Driver, h *host.Host)) {
	testdrivers.Each(t, func(t *testing.T, d driver.Driver) { f(t, d, host.New(d.API())) })
}

// short is a fresh name of at most 15 bytes (a network's limit).
func short(prefix string) string { return testhost.Short(prefix) }

func mustClass(t *testing.T, what string, err, class error, says ...string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("%s: %v, want an error matching %v", what, err, class)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: %q does not say %q", what, err, s)
		}
	}
}

func TestProfiles(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 3*time.Minute)
		profiles := h.Profiles()
		name := testhost.Name("prof")
		t.Cleanup(func() {
			_ = profiles.Delete(context.Background(), name)
			_ = profiles.Delete(context.Background(), name+"-b")
		})

		post := api.ProfilesPost{Name: name, ProfilePut: api.ProfilePut{
			Description: "made by a test",
			Config:      map[string]string{"limits.memory": "256MiB", "user.a": "1"},
			Devices:     map[string]map[string]string{"scratch": {"type": "disk", "source": "/tmp", "path": "/mnt/scratch"}},
		}}
		if err := profiles.Create(ctx, post); err != nil {
			t.Fatal(err)
		}
		// Converges: the same create again is success and changes nothing.
		again := post
		again.Description = "other"
		if err := profiles.Create(ctx, again); err != nil {
			t.Fatalf("second create: %v", err)
		}
		p, err := profiles.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Description != "made by a test" || p.Config["limits.memory"] != "256MiB" || p.Devices["scratch"]["path"] != "/mnt/scratch" {
			t.Fatalf("profile as read: %+v", p)
		}

		err = profiles.Update(ctx, name, func(put *api.ProfilePut) error {
			host.MergeConfig(&put.Config, map[string]string{"user.a": "", "user.b": "2"})
			host.MergeDevices(&put.Devices, map[string]map[string]string{"scratch": nil})
			put.Description = "changed"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err = profiles.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Config["user.a"]; ok || p.Config["user.b"] != "2" || p.Config["limits.memory"] != "256MiB" || len(p.Devices) != 0 || p.Description != "changed" {
			t.Fatalf("after update: %+v", p)
		}
		// A change the daemon refuses is its error, and nothing changes.
		err = profiles.Update(ctx, name, func(put *api.ProfilePut) error {
			host.MergeConfig(&put.Config, map[string]string{"no.such.key": "1"})
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "no.such.key") {
			t.Errorf("update with an unknown key: %v", err)
		}

		list, err := profiles.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(list, func(p api.Profile) bool { return p.Name == name }) ||
			!slices.ContainsFunc(list, func(p api.Profile) bool { return p.Name == "default" }) {
			t.Errorf("list lacks %s or default: %d profiles", name, len(list))
		}

		// A profile in use cannot be deleted; the error says so.
		inst := testhost.Name("prof")
		t.Cleanup(func() { _ = d.Delete(context.Background(), inst) })
		if err := d.Create(ctx, inst, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Profiles: []string{"default", name}, NoStart: true}); err != nil {
			t.Fatal(err)
		}
		if p, err = profiles.Get(ctx, name); err != nil {
			t.Error(err)
		} else if len(p.UsedBy) != 1 || !strings.Contains(p.UsedBy[0], inst) {
			t.Errorf("used_by: %v", p.UsedBy)
		}
		mustClass(t, "delete in use", profiles.Delete(ctx, name), errdefs.ErrConflict, name)
		if ok, err := profiles.Exists(ctx, name); !ok || err != nil {
			t.Fatalf("after refused delete: %v %v", ok, err)
		}
		if err := d.Delete(ctx, inst); err != nil {
			t.Fatal(err)
		}

		if err := profiles.Rename(ctx, name, name+"-b"); err != nil {
			t.Fatal(err)
		}
		mustClass(t, "get renamed", func() error { _, err := profiles.Get(ctx, name); return err }(), errdefs.ErrNotFound, name, "not found")
		mustClass(t, "rename missing", profiles.Rename(ctx, name, name+"-c"), errdefs.ErrNotFound, name)
		mustClass(t, "rename onto default", profiles.Rename(ctx, name+"-b", "default"), errdefs.ErrConflict, "default already exists")

		if err := profiles.Delete(ctx, name+"-b"); err != nil {
			t.Fatal(err)
		}
		if err := profiles.Delete(ctx, name+"-b"); err != nil {
			t.Errorf("deleting a missing profile: %v", err)
		}
		for _, bad := range []string{"", "a/b", "..", "a b", "a\nb"} {
			mustClass(t, "create "+bad, profiles.Create(ctx, api.ProfilesPost{Name: bad}), errdefs.ErrInvalidArgument, "invalid profile name")
			mustClass(t, "delete "+bad, profiles.Delete(ctx, bad), errdefs.ErrInvalidArgument)
		}
	})
}

func TestProjects(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 2*time.Minute)
		projects := h.Projects()
		name := short("lxkp")
		t.Cleanup(func() { _ = projects.Delete(context.Background(), name) })
		post := api.ProjectsPost{Name: name, ProjectPut: api.ProjectPut{Config: map[string]string{"features.images": "false", "features.profiles": "false"}}}
		for range 2 {
			if err := projects.Create(ctx, post); err != nil {
				t.Fatal(err)
			}
		}
		if err := projects.Update(ctx, name, func(p *api.ProjectPut) error {
			host.MergeConfig(&p.Config, map[string]string{"limits.containers": "3"})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		p, err := projects.Get(ctx, name)
		if err != nil || p.Config["limits.containers"] != "3" || p.Config["features.images"] != "false" {
			t.Fatalf("project: %+v, %v", p, err)
		}
		if err := projects.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
		if ok, err := projects.Exists(ctx, name); ok || err != nil {
			t.Fatalf("after delete: %v %v", ok, err)
		}
	})
}

func TestStorage(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 3*time.Minute)
		pools := h.StoragePools()
		pool := short("lxks")
		t.Cleanup(func() { _ = pools.Delete(context.Background(), pool) })
		for range 2 {
			if err := pools.Create(ctx, api.StoragePoolsPost{Name: pool, Driver: "dir"}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := pools.Get(ctx, pool)
		if err != nil || p.Driver != "dir" {
			t.Fatalf("pool: %+v, %v", p, err)
		}

		vols := h.Volumes(pool)
		vol := short("vol")
		t.Cleanup(func() { _ = vols.Delete(context.Background(), vol) })
		for range 2 {
			if err := vols.Create(ctx, api.StorageVolumesPost{Name: vol, StorageVolumePut: api.StorageVolumePut{Config: map[string]string{"user.x": "1"}}}); err != nil {
				t.Fatal(err)
			}
		}
		v, err := vols.Get(ctx, vol)
		if err != nil || v.Type != "custom" || v.Config["user.x"] != "1" {
			t.Fatalf("volume: %+v, %v", v, err)
		}
		// A pool with a volume cannot go.
		mustClass(t, "delete pool with volume", pools.Delete(ctx, pool), errdefs.ErrConflict)
		if err := vols.Rename(ctx, vol, vol+"b"); err != nil {
			t.Fatal(err)
		}
		list, err := vols.List(ctx)
		if err != nil || len(list) != 1 || list[0].Name != vol+"b" {
			t.Fatalf("volumes: %+v, %v", list, err)
		}
		if err := vols.Delete(ctx, vol+"b"); err != nil {
			t.Fatal(err)
		}
		if err := pools.Delete(ctx, pool); err != nil {
			t.Fatal(err)
		}
		mustClass(t, "volumes of a missing pool", func() error { _, err := vols.List(ctx); return err }(), errdefs.ErrNotFound)
	})
}

func TestNetworks(t *testing.T) {
	// One at a time: Incus 6.0 fails to create, change or delete a bridge
	// while any network interface of the machine comes or goes ("Failed
	// to delete bridge children interfaces"), LXD's bridges included.
	testdrivers.EachInTurn(t, func(t *testing.T, d driver.Driver) {
		h := host.New(d.API())
		ctx := testhost.Context(t, 2*time.Minute)
		nets := h.Networks()
		name := short("lxkn")
		t.Cleanup(func() { _ = nets.Delete(context.Background(), name) })
		// NAT off: containers talk only to this machine.
		post := api.NetworksPost{Name: name, Type: "bridge", NetworkPut: api.NetworkPut{Config: map[string]string{
			"ipv4.address": "none", "ipv6.address": "none",
		}}}
		for range 2 {
			if err := nets.Create(ctx, post); err != nil {
				t.Fatal(err)
			}
		}
		n, err := nets.Get(ctx, name)
		if err != nil || n.Type != "bridge" || !n.Managed {
			t.Fatalf("network: %+v, %v", n, err)
		}
		if err := nets.Update(ctx, name, func(p *api.NetworkPut) error {
			p.Description = "test bridge"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n, err = nets.Get(ctx, name); err != nil || n.Description != "test bridge" {
			t.Fatalf("after update: %+v, %v", n, err)
		}
		mustClass(t, "too long", nets.Create(ctx, api.NetworksPost{Name: "a-name-too-long-x"}), errdefs.ErrInvalidArgument, "15 bytes")
		if err := nets.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
		if ok, err := nets.Exists(ctx, name); ok || err != nil {
			t.Fatalf("after delete: %v %v", ok, err)
		}
	})
}

func TestSnapshots(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 3*time.Minute)
		inst := testhost.Name("snap")
		t.Cleanup(func() { _ = d.Delete(context.Background(), inst) })
		if err := d.Create(ctx, inst, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
			t.Fatal(err)
		}
		tr := d.Transport(inst)
		if err := tr.WriteFile(ctx, "/root/state", strings.NewReader("before"), transport.FileOptions{Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		snaps := h.Snapshots(inst)
		for range 2 {
			if err := snaps.Create(ctx, api.InstanceSnapshotsPost{Name: "s1"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.WriteFile(ctx, "/root/state", strings.NewReader("after"), transport.FileOptions{Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if err := d.Stop(ctx, inst, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if err := h.RestoreSnapshot(ctx, inst, "s1", false); err != nil {
			t.Fatal(err)
		}
		mustClass(t, "restore missing", h.RestoreSnapshot(ctx, inst, "nope", false), errdefs.ErrNotFound, "snapshot nope not found")
		if err := d.Start(ctx, inst); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(ctx, tr, "/root/state")
		if err != nil || got != "before" {
			t.Fatalf("after restore: %q, %v", got, err)
		}
		if err := snaps.Rename(ctx, "s1", "s2"); err != nil {
			t.Fatal(err)
		}
		// A caller can write the Update callback: the expiry, set and cleared.
		expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		for _, want := range []time.Time{expiry, {}} {
			if err := snaps.Update(ctx, "s2", func(put *api.InstanceSnapshotPut) error { put.ExpiresAt = want; return nil }); err != nil {
				t.Fatal(err)
			}
			s, err := snaps.Get(ctx, "s2")
			if err != nil || !s.ExpiresAt.Equal(want) && !(want.IsZero() && s.ExpiresAt.Unix() <= 0) {
				t.Fatalf("snapshot expiry after setting %v: %+v, %v", want, s, err)
			}
		}
		list, err := snaps.List(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "s2" {
			t.Fatalf("snapshots: %+v, %v", list, err)
		}
		if err := snaps.Delete(ctx, "s2"); err != nil {
			t.Fatal(err)
		}
		if err := snaps.Delete(ctx, "s2"); err != nil {
			t.Errorf("deleting a missing snapshot: %v", err)
		}
	})
}

func TestServerConfig(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, time.Minute)
		// Keys that matter little here (no image server is reachable),
		// one per driver, since both run at once on the same daemon.
		key, want := "images.remote_cache_expiry", "11"
		if strings.HasSuffix(t.Name(), "cli") {
			key, want = "images.auto_update_cached", "false"
		}
		before, err := h.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.SetConfig(context.Background(), map[string]string{key: before[key]}) })
		if err := h.SetConfig(ctx, map[string]string{key: want}); err != nil {
			t.Fatal(err)
		}
		after, err := h.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range before {
			if k != key && !strings.HasPrefix(k, "images.") && after[k] != v {
				t.Errorf("%s changed: %q -> %q", k, v, after[k])
			}
		}
		if after[key] != want {
			t.Errorf("%s = %q, want %q", key, after[key], want)
		}
		if err := h.SetConfig(ctx, map[string]string{"no.such.key": "1"}); err == nil {
			t.Error("an unknown server key was accepted")
		}
	})
}

func TestOperationsAndCluster(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, time.Minute)
		if _, err := h.Operations(ctx); err != nil {
			t.Fatal(err)
		}
		mustClass(t, "missing operation", func() error { _, err := h.Operation(ctx, "00000000-0000-0000-0000-000000000000"); return err }(), errdefs.ErrNotFound)
		mustClass(t, "bad id", func() error { _, err := h.Operation(ctx, "../1.0"); return err }(), errdefs.ErrInvalidArgument)
		c, err := h.Cluster(ctx)
		if err != nil || c.Enabled {
			t.Fatalf("cluster: %+v, %v", c, err)
		}
		m, err := h.ClusterMembers(ctx)
		if err != nil || len(m) != 1 || m[0].Status != "Standalone" || m[0].ServerName == "" {
			t.Fatalf("members: %+v, %v", m, err)
		}
	})
}

func readAll(ctx context.Context, tr transport.Transport, path string) (string, error) {
	r, err := tr.ReadFile(ctx, path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return string(data), err
}

// TestInstancesWithState lists a running and a stopped container with
// their states in one request, through each driver.
func TestInstancesWithState(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 2*time.Minute)
		running, stopped := testhost.Name("ls-run"), testhost.Name("ls-stop")
		t.Cleanup(func() {
			for _, n := range []string{running, stopped} {
				_ = d.Delete(context.Background(), n)
			}
		})
		for _, n := range []string{running, stopped} {
			if err := d.Create(ctx, n, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Stop(ctx, stopped, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		all, err := h.InstancesWithState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, inst := range all {
			if inst.Name != running && inst.Name != stopped {
				continue
			}
			if inst.State == nil {
				t.Fatalf("%s listed without its state: %+v", inst.Name, inst.Instance)
			}
			got[inst.Name] = inst.Status + "/" + inst.State.Status
			if inst.Name == running && driver.FirstIPv4(inst.State) == "" && len(inst.State.Network) == 0 {
				t.Errorf("%s: a running container's state has no network: %+v", running, inst.State)
			}
		}
		if want := map[string]string{running: "Running/Running", stopped: "Stopped/Stopped"}; !maps.Equal(got, want) {
			t.Fatalf("listed: %v, want %v", got, want)
		}
	})
}
