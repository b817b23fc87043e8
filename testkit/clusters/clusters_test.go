// Package clusters holds the tests against the two real clusters that
// `make cluster` forms: three LXD 5.0.2 members and three Incus 6.0.4
// members on this machine (testkit/testcluster).
package clusters

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/buildhost"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/spec"
	"github.com/lxkit/lxkit/testkit/testcluster"
	"github.com/lxkit/lxkit/testkit/testcmd"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// TestMembers reads and changes the members over HTTPS.
func TestMembers(t *testing.T) {
	testcluster.Each(t, func(t *testing.T, c testcluster.Cluster) {
		ctx := testhost.Context(t, 2*time.Minute)
		h := host.New(rest.New(c.Connect(t, "m1")).API())
		members, err := h.ClusterMembers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range testcluster.Members {
			i := slices.IndexFunc(members, func(m api.ClusterMember) bool { return m.ServerName == name })
			if i < 0 {
				t.Fatalf("no member %s in %+v", name, members)
			}
			if m := members[i]; m.Status != "Online" || m.URL != "https://"+c.Address(name) || !slices.Contains(m.Groups, "default") {
				t.Errorf("member %s: %+v", name, m)
			}
		}
		desc := "lxkit test " + testhost.Name("desc")
		t.Cleanup(func() {
			_ = h.UpdateClusterMember(context.Background(), "m3", func(p *api.ClusterMemberPut) error { p.Description = ""; return nil })
		})
		if err := h.UpdateClusterMember(ctx, "m3", func(p *api.ClusterMemberPut) error { p.Description = desc; return nil }); err != nil {
			t.Fatal(err)
		}
		if m, err := h.ClusterMember(ctx, "m3"); err != nil || m.Description != desc || m.Status != "Online" {
			t.Fatalf("m3 after the update: %+v, %v", m, err)
		}
		if _, err := h.ClusterMember(ctx, "nosuch"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "cluster member nosuch not found") {
			t.Errorf("a missing member: %v", err)
		}
	})
}

// TestPlacement places containers on a named member and in a group,
// through both drivers, and runs a command in them through m1.
func TestPlacement(t *testing.T) {
	testcluster.EachDriver(t, func(t *testing.T, c testcluster.Cluster, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		h := host.New(d.API())
		group := testhost.Name("grp")
		onM2, inGroup := testhost.Name("on-m2"), testhost.Name("in-grp")
		// A group of one member, which stays in default too, so that
		// other tests' placements are not changed. Assigning sets a
		// member's groups whole: each test that does so has a member of
		// its own (the REST subtest m3, the CLI one m2, the cluster
		// script m1).
		member := "m3"
		if _, ok := d.(*cli.Driver); ok {
			member = "m2"
		}
		t.Cleanup(func() {
			ctx := testhost.Context(t, time.Minute)
			for _, n := range []string{onM2, inGroup} {
				_ = d.Delete(ctx, n)
			}
			_ = h.AssignClusterGroups(ctx, member, []string{"default"})
			_ = h.ClusterGroups().Delete(ctx, group)
		})
		if err := h.ClusterGroups().Create(ctx, api.ClusterGroupsPost{Name: group}); err != nil {
			t.Fatal(err)
		}
		if err := h.AssignClusterGroups(ctx, member, []string{"default", group}); err != nil {
			t.Fatal(err)
		}
		if g, err := h.ClusterGroups().Get(ctx, group); err != nil || !slices.Equal(g.Members, []string{member}) {
			t.Fatalf("group %s: %+v, %v", group, g, err)
		}
		for name, target := range map[string]string{onM2: "m2", inGroup: "@" + group} {
			if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Target: target}); err != nil {
				t.Fatalf("create %s --target %s: %v", name, target, err)
			}
		}
		for name, want := range map[string]string{onM2: "m2", inGroup: member} {
			inst, err := d.Instance(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Location != want {
				t.Fatalf("%s: location %q, want %s", name, inst.Location, want)
			}
			if out, err := transport.Run(ctx, d.Transport(name), "hostname"); err != nil || strings.TrimSpace(out) != name {
				t.Fatalf("hostname in %s on %s: %q, %v", name, want, out, err)
			}
		}
		if err := d.Create(ctx, testhost.Name("nowhere"), driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Target: "m9", NoStart: true}); err == nil {
			t.Error("a create on a member that does not exist succeeded")
		}
	})
}

// TestJoinAndRemove adds a fresh daemon to each cluster by token,
// evacuates it and restores it with a container on it, and removes it.
func TestJoinAndRemove(t *testing.T) {
	testcluster.Each(t, func(t *testing.T, c testcluster.Cluster) {
		ctx := testhost.Context(t, 3*time.Minute)
		h1Client := c.Connect(t, "m1")
		h1 := host.New(rest.New(h1Client).API())
		spare, addr := c.Spare(t)
		h4 := host.New(rest.New(spare).API())
		first, err := h1.AddClusterMember(ctx, "m4")
		if err != nil {
			t.Fatal(err)
		}
		token, err := h1.AddClusterMember(ctx, "m4") // revokes the first
		if err != nil {
			t.Fatal(err)
		}
		tok, err := host.ParseJoinToken(token)
		if err != nil || tok.ServerName != "m4" || !slices.Contains(tok.Addresses, c.Address("m1")) {
			t.Fatalf("token: %+v, %v", tok, err)
		}
		cert, err := client.ClusterCertificate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		opts := host.JoinOptions{ClusterCertificate: cert}
		if err := h4.JoinCluster(ctx, first, opts); err == nil {
			t.Fatal("a revoked token joined")
		}
		for range 2 { // the second converges
			if err := h4.JoinCluster(ctx, token, opts); err != nil {
				t.Fatal(err)
			}
		}
		m, err := h1.ClusterMember(ctx, "m4")
		if err != nil || m.Status != "Online" || m.URL != "https://"+addr {
			t.Fatalf("m4 after joining: %+v, %v", m, err)
		}
		// The new member uses the cluster's configuration, not its own
		// from before it joined (hostapi.JoinedConfigStale): with its own
		// offline threshold of 20 s it counted members offline that the
		// cluster counted online, and refused to restore itself.
		const threshold = "cluster.offline_threshold"
		if at1, at4 := config(t, ctx, h1)[threshold], config(t, ctx, h4)[threshold]; at4 != at1 {
			t.Fatalf("%s at m4 after joining: %q, at m1 %q", threshold, at4, at1)
		}
		// The joining member made the cluster's pool and bridge on itself.
		if p, err := h4.StoragePools().Get(ctx, "default"); err != nil || p.Status != "Created" {
			t.Errorf("pool default on m4: %+v, %v", p, err)
		}
		if n, err := h4.Networks().Get(ctx, "clbr0"); err != nil || n.Status != "Created" {
			t.Errorf("network clbr0 on m4: %+v, %v", n, err)
		}

		// Evacuation: a container on m4 moves to another member and
		// comes back on restore.
		d := rest.New(h1Client)
		name := testhost.Name("evac")
		t.Cleanup(func() { _ = d.Delete(testhost.Context(t, time.Minute), name) })
		if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Target: "m4"}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second converges
			if err := h1.EvacuateClusterMember(ctx, "m4"); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := h1.ClusterMember(ctx, "m4"); err != nil || m.Status != "Evacuated" {
			t.Fatalf("m4 after evacuation: %+v, %v", m, err)
		}
		inst, err := d.Instance(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if inst.Location == "m4" {
			t.Fatalf("%s after evacuating m4: on %q", name, inst.Location)
		}
		t.Logf("%s: evacuated to %s, %s", c.Name, inst.Location, inst.Status)
		for range 2 {
			if err := h1.RestoreClusterMember(ctx, "m4"); err != nil {
				t.Fatal(err)
			}
		}
		if inst, err := d.Instance(ctx, name); err != nil || inst.Location != "m4" || inst.Status != "Running" {
			t.Fatalf("%s after restoring m4: %+v, %v", name, inst, err)
		}
		if err := d.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}

		for range 2 { // the second converges
			if err := h1.RemoveClusterMember(ctx, "m4", false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h1.ClusterMember(ctx, "m4"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("m4 after removal: %v", err)
		}
	})
}

// config is a host's server configuration, as the daemon has it in memory.
func config(t *testing.T, ctx context.Context, h *host.Host) map[string]string {
	t.Helper()
	cfg, err := h.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMoveAndCopy moves a container between members, stopped and
// running, and copies it to another member, through both drivers.
func TestMoveAndCopy(t *testing.T) {
	testcluster.EachDriver(t, func(t *testing.T, c testcluster.Cluster, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		h := host.New(d.API())
		name := testhost.Name("mv")
		t.Cleanup(func() {
			ctx := testhost.Context(t, time.Minute)
			_ = d.Delete(ctx, name)
			_ = d.Delete(ctx, name+"-copy")
		})
		if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Target: "m1", NoStart: true}); err != nil {
			t.Fatal(err)
		}
		at := func(want, status string) {
			t.Helper()
			inst, err := d.Instance(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Location != want || inst.Status != status {
				t.Fatalf("%s: %s on %q, want %s on %s", name, inst.Status, inst.Location, status, want)
			}
		}
		for range 2 { // the second converges
			if err := h.MoveInstance(ctx, name, host.MoveOptions{Target: "m2"}); err != nil {
				t.Fatal(err)
			}
		}
		at("m2", "Stopped")
		if err := d.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
		err := h.MoveInstance(ctx, name, host.MoveOptions{Target: "m3"})
		if !errors.Is(err, errdefs.ErrPreconditionFailed) || !strings.Contains(err.Error(), "is running on m2") {
			t.Fatalf("moving a running container: %v", err)
		}
		at("m2", "Running")
		if err := h.MoveInstance(ctx, name, host.MoveOptions{Target: "m3", Stop: true}); err != nil {
			t.Fatal(err)
		}
		at("m3", "Running")
		if out, err := transport.Run(ctx, d.Transport(name), "hostname"); err != nil || strings.TrimSpace(out) != name {
			t.Fatalf("hostname after the move: %q, %v", out, err)
		}
		if err := d.Stop(ctx, name, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if err := h.CopyInstance(ctx, name, name+"-copy", host.CopyInstanceOptions{Target: "m1"}); err != nil {
			t.Fatal(err)
		}
		if inst, err := d.Instance(ctx, name+"-copy"); err != nil || inst.Location != "m1" {
			t.Fatalf("the copy: %+v, %v", inst, err)
		}

		// A volume of m1's local pool attached to the copy would stay on
		// m1: the move is refused, naming it, and the copy stays.
		vol := testhost.Short("mv")
		t.Cleanup(func() {
			ctx := testhost.Context(t, time.Minute)
			_ = d.Delete(ctx, name+"-copy")
			_ = h.Volumes("default").On("m1").Delete(ctx, vol)
		})
		if err := h.Volumes("default").On("m1").Create(ctx, api.StorageVolumesPost{Name: vol}); err != nil {
			t.Fatal(err)
		}
		if err := h.Instances().Update(ctx, name+"-copy", func(p *api.InstancePut) error {
			if p.Devices == nil {
				p.Devices = map[string]map[string]string{}
			}
			p.Devices["data"] = map[string]string{"type": "disk", "pool": "default", "source": vol, "path": "/data"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		err = h.MoveInstance(ctx, name+"-copy", host.MoveOptions{Target: "m2"})
		if !errors.Is(err, errdefs.ErrPreconditionFailed) || !strings.Contains(err.Error(), "volume "+vol+" of pool default attached") {
			t.Fatalf("moving an instance with a local volume: %v", err)
		}
		if inst, err := d.Instance(ctx, name+"-copy"); err != nil || inst.Location != "m1" {
			t.Fatalf("the copy after the refused move: %+v, %v", inst, err)
		}
	})
}

// TestPoolsNetworksVolumes makes a storage pool and a network across a
// cluster (a pending definition on each member, then the object), and a
// volume on one member, through both drivers.
func TestPoolsNetworksVolumes(t *testing.T) {
	testcluster.EachDriver(t, func(t *testing.T, c testcluster.Cluster, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		h := host.New(d.API())
		pool, network, vol := testhost.Short("cp"), testhost.Short("cn"), testhost.Short("cv")
		t.Cleanup(func() {
			ctx := testhost.Context(t, time.Minute)
			_ = h.Volumes(pool).On("m2").Delete(ctx, vol)
			_ = h.StoragePools().Delete(ctx, pool)
			_ = h.Networks().Delete(ctx, network)
		})
		// m1's own definition first, as a member with its own source
		// would have it; the create makes the others'.
		if err := h.StoragePools().On("m1").Create(ctx, api.StoragePoolsPost{Name: pool, Driver: "dir"}); err != nil {
			t.Fatal(err)
		}
		if p, err := h.StoragePools().Get(ctx, pool); err != nil || p.Status != "Pending" {
			t.Fatalf("pool %s defined on m1 alone: %+v, %v", pool, p, err)
		}
		for range 2 { // the second converges
			if err := h.StoragePools().Create(ctx, api.StoragePoolsPost{Name: pool, Driver: "dir"}); err != nil {
				t.Fatal(err)
			}
			if err := h.Networks().Create(ctx, api.NetworksPost{Name: network, Type: "bridge",
				NetworkPut: api.NetworkPut{Config: map[string]string{"ipv4.address": "none", "ipv6.address": "none"}}}); err != nil {
				t.Fatal(err)
			}
		}
		if p, err := h.StoragePools().Get(ctx, pool); err != nil || p.Status != "Created" || len(p.Locations) != len(testcluster.Members) {
			t.Fatalf("pool %s: %+v, %v", pool, p, err)
		}
		if n, err := h.Networks().Get(ctx, network); err != nil || n.Status != "Created" || len(n.Locations) != len(testcluster.Members) {
			t.Fatalf("network %s: %+v, %v", network, n, err)
		}
		if err := h.Volumes(pool).On("m2").Create(ctx, api.StorageVolumesPost{Name: vol}); err != nil {
			t.Fatal(err)
		}
		if v, err := h.Volumes(pool).On("m2").Get(ctx, vol); err != nil || v.Location != "m2" {
			t.Fatalf("volume %s: %+v, %v", vol, v, err)
		}
	})
}

// TestFleetSpread applies a fleet of six spread instances: two on each
// member, in parallel; the plan shows where each is; a rebuild keeps its
// member.
func TestFleetSpread(t *testing.T) {
	testcluster.Each(t, func(t *testing.T, c testcluster.Cluster) {
		ctx := testhost.Context(t, 5*time.Minute)
		d := rest.New(c.Connect(t, "m1"))
		dir := t.TempDir()
		name := strings.TrimPrefix(testhost.Name("spread"), "lxkit-")
		var names []string
		fleetFile := "fleet: " + name + "\ninstances:\n"
		for i := range 6 {
			n := fmt.Sprintf("lxkit-%s-%d", name, i)
			names = append(names, n)
			fleetFile += "  " + n + ": app.yaml\n"
		}
		t.Cleanup(func() {
			ctx := testhost.Context(t, 2*time.Minute)
			for _, n := range names {
				_ = d.Delete(ctx, n)
			}
		})
		write(t, filepath.Join(dir, "app.yaml"), "image: "+testhost.Image+"\nplacement: {spread: true}\n")
		write(t, filepath.Join(dir, "fleet.yaml"), fleetFile)
		f, err := fleet.Load(filepath.Join(dir, "fleet.yaml"), nil)
		if err != nil {
			t.Fatal(err)
		}
		m := fleet.New(d)
		m.Fleet = name
		plan, err := m.Plan(ctx, f, fleet.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, ch := range plan {
			if want := fmt.Sprintf("+ create %s on m%d", names[i], i%3+1); ch.String() != want {
				t.Errorf("plan line %d: %q, want %q", i, ch, want)
			}
		}
		if err := m.Apply(ctx, plan, fleet.ApplyOptions{Parallel: 3}); err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, n := range names {
			inst, err := d.Instance(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			per[inst.Location]++
		}
		if per["m1"] != 2 || per["m2"] != 2 || per["m3"] != 2 {
			t.Errorf("instances per member: %v, want 2 on each", per)
		}
		if plan, err = m.Plan(ctx, f, fleet.PlanOptions{}); err != nil || plan[0].String() != "= keep "+names[0]+" on m1" {
			t.Fatalf("plan after apply: %v, %v", plan, err)
		}
		s := f.Instances[1]
		if err := m.Rebuild(ctx, s, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if inst, err := d.Instance(ctx, s.Name); err != nil || inst.Location != "m2" {
			t.Fatalf("%s after the rebuild: %+v, %v", s.Name, inst, err)
		}
	})
}

// TestJobsOnMembers runs a job on each of two members the caller names,
// through m1; job list (library and command) shows both with their
// members, and reap deletes both.
func TestJobsOnMembers(t *testing.T) {
	testcluster.Each(t, func(t *testing.T, c testcluster.Cluster) {
		ctx := testhost.Context(t, 3*time.Minute)
		d := rest.New(c.Connect(t, "m1"))
		job := strings.TrimPrefix(testhost.Name("where"), "lxkit-")
		j := &buildhost.Job{Name: job, Image: spec.Image{Alias: testhost.Image}, Timeout: buildhost.Duration(time.Minute),
			Steps: []buildhost.Step{{Name: "host", Run: "hostname"}}}
		want := map[string]string{} // container: member
		for _, member := range []string{"m2", "m3"} {
			var log strings.Builder
			res, err := buildhost.Run(ctx, d, j, buildhost.Options{Log: &log, Target: member, Keep: buildhost.KeepAlways})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			t.Cleanup(func() { _ = d.Delete(testhost.Context(t, time.Minute), res.Container) })
			if !strings.Contains(log.String(), res.Container+"\n") {
				t.Errorf("log:\n%s", log.String())
			}
			want[res.Container] = member
		}
		list, err := buildhost.Containers(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, jc := range list {
			if jc.Job == job {
				got[jc.Name] = jc.Location
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("job containers: %v, want %v", got, want)
		}
		r := testcmd.Run(ctx, testcmd.Options{}, "--host", c.Remote, "job", "list")
		if r.Code != 0 || !regexpLine(string(r.Stdout), `^NAME +JOB +STATUS +DEADLINE +LOCATION$`) {
			t.Fatalf("job list: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		for name, member := range want {
			if !regexpLine(string(r.Stdout), "^"+regexp.QuoteMeta(name)+" +"+regexp.QuoteMeta(job)+" .* "+member+"$") {
				t.Errorf("job list lacks %s on %s:\n%s", name, member, r.Stdout)
			}
		}
		reaped, err := buildhost.Reap(ctx, d, time.Now().Add(48*time.Hour), job)
		if slices.Sort(reaped); err != nil || len(reaped) != 2 || want[reaped[0]] == "" || want[reaped[1]] == "" {
			t.Fatalf("reap: %v, %v; want %v", reaped, err, want)
		}
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEventsAndOperationsAcrossMembers watches events and lists
// operations through m1 while the work happens on m3, asked through m3:
// both cover every member.
func TestEventsAndOperationsAcrossMembers(t *testing.T) {
	testcluster.Each(t, func(t *testing.T, c testcluster.Cluster) {
		ctx := testhost.Context(t, 3*time.Minute)
		h1 := host.New(rest.New(c.Connect(t, "m1")).API())
		c3 := c.Connect(t, "m3")
		d3 := rest.New(c3)
		name := testhost.Name("ev")
		t.Cleanup(func() { _ = d3.Delete(testhost.Context(t, time.Minute), name) })

		// The subscription is in place, with m1 relaying m3's events,
		// once a profile change made through m3 shows through m1.
		s := testhost.Subscribe(t, h1, api.EventOptions{Types: []string{api.EventTypeLifecycle}})
		s.Ready(t, host.New(d3.API()), time.Minute)
		if err := d3.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, Target: "m3"}); err != nil {
			t.Fatal(err)
		}
		ev := s.WaitFor(t, time.Minute, "instance-started of "+name+" (on m3) through m1", func(ev api.Event) bool {
			a, src := host.LifecycleAction(ev)
			return a == "instance-started" && strings.HasPrefix(src, "/1.0/instances/"+name)
		})
		if ev.Location != "m3" {
			t.Errorf("the start event, seen through m1: location %q, want m3", ev.Location)
		}

		// An operation running on m3 is listed, and read, through m1.
		op, err := c3.Start(ctx, http.MethodPost, hostapi.InstancePath(name, "exec"),
			map[string]any{"command": []string{"sleep", "30"}, "wait-for-websocket": false, "interactive": false}, "")
		if err != nil {
			t.Fatal(err)
		}
		ops, err := h1.Operations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ops, func(o api.Operation) bool { return o.ID == op.ID })
		if i < 0 || ops[i].Location != "m3" {
			t.Fatalf("operation %s (on m3) through m1: %+v", op.ID, ops)
		}
		if got, err := h1.Operation(ctx, op.ID); err != nil || got.Location != "m3" || got.Status != "Running" {
			t.Fatalf("operation %s read through m1: %+v, %v", op.ID, got, err)
		}
	})
}
