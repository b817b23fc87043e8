package fleet_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/testkit/testhost"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// planLines is a plan as its lines, for comparisons.
func planLines(plan []fleet.Change) string {
	var lines []string
	for _, c := range plan {
		lines = append(lines, c.String())
	}
	return strings.Join(lines, "\n")
}

func TestPlanApply(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 5*time.Minute)
		dir := t.TempDir()
		a, b, other := testhost.Name("fa"), testhost.Name("fb"), testhost.Name("fo")
		fleetName := strings.TrimPrefix(testhost.Name("f"), "lxkit-")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for _, n := range []string{a, b, other} {
				_ = d.Delete(ctx, n)
			}
		})
		app := filepath.Join(dir, "app.yaml")
		writeFile(t, app, "image: "+testhost.Image+"\nconfig:\n  user.tier: ${tier}\n  user.gone: soon\nproperties: {tier: one}\n")
		fleetFile := filepath.Join(dir, "fleet.yaml")
		writeFile(t, fleetFile, "fleet: "+fleetName+"\ninstances:\n  "+a+": app.yaml\n  "+b+":\n    config: app.yaml\n    properties: {tier: two}\n  "+other+": app.yaml\n")
		// other exists already, made by hand: the fleet leaves it alone.
		if err := d.Create(ctx, other, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}, NoStart: true}); err != nil {
			t.Fatal(err)
		}

		m := fleet.New(d)
		m.Fleet = fleetName
		load := func() *fleet.Fleet {
			f, err := fleet.Load(fleetFile, nil)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		plan := func(opts fleet.PlanOptions) []fleet.Change {
			p, err := m.Plan(ctx, load(), opts)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		apply := func(p []fleet.Change) {
			// Two at a time: the creates and updates run side by side.
			if err := m.Apply(ctx, p, fleet.ApplyOptions{Stop: driver.StopOptions{Force: true}, Parallel: 2}); err != nil {
				t.Fatal(err)
			}
		}
		expect := func(p []fleet.Change, want string) {
			t.Helper()
			if got := planLines(p); got != want {
				t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
			}
		}

		p := plan(fleet.PlanOptions{})
		expect(p, "+ create "+a+"\n+ create "+b+"\n? skip "+other+": made outside any fleet")
		apply(p)
		expect(plan(fleet.PlanOptions{}), "= keep "+a+"\n= keep "+b+"\n? skip "+other+": made outside any fleet")
		inst, err := d.Instance(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if inst.Config["user.tier"] != "two" || inst.Config[fleet.KeyFleet] != fleetName {
			t.Fatalf("%s: %v", b, inst.Config)
		}

		// A changed configuration: updated in place, a dropped key removed.
		writeFile(t, app, "image: "+testhost.Image+"\nconfig:\n  user.tier: ${tier}\n  user.new: \"yes\"\nproperties: {tier: one}\n")
		p = plan(fleet.PlanOptions{})
		expect(p, "~ update "+a+": config user.new \"\" -> \"yes\"; config user.gone removed\n~ update "+b+": config user.new \"\" -> \"yes\"; config user.gone removed\n? skip "+other+": made outside any fleet")
		apply(p)
		inst, err = d.Instance(ctx, a)
		if _, gone := inst.Config["user.gone"]; err != nil || gone || inst.Config["user.new"] != "yes" {
			t.Fatalf("%s after update: %v, %v", a, inst.Config, err)
		}
		expect(plan(fleet.PlanOptions{}), "= keep "+a+"\n= keep "+b+"\n? skip "+other+": made outside any fleet")

		// A stopped instance of the fleet is started.
		if err := d.Stop(ctx, a, driver.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		p = plan(fleet.PlanOptions{})
		expect(p, "> start "+a+": stopped\n= keep "+b+"\n? skip "+other+": made outside any fleet")
		apply(p)
		if st, err := d.Status(ctx, a); err != nil || st != driver.StatusRunning {
			t.Fatalf("%s after apply: %s, %v", a, st, err)
		}

		// Another image: a rebuild (planned only; Rebuild itself is
		// tested with volumes elsewhere).
		writeFile(t, app, "image: "+testhost.NestImage+"\nconfig:\n  user.tier: ${tier}\n  user.new: \"yes\"\nproperties: {tier: one}\n")
		p = plan(fleet.PlanOptions{})
		if p[0].Action != fleet.Rebuild || !strings.Contains(p[0].String(), "image ") {
			t.Fatalf("plan after an image change: %s", planLines(p))
		}
		writeFile(t, app, "image: "+testhost.Image+"\nconfig:\n  user.tier: ${tier}\n  user.new: \"yes\"\nproperties: {tier: one}\n")

		// b leaves the fleet: kept unless pruned.
		writeFile(t, fleetFile, "fleet: "+fleetName+"\ninstances:\n  "+a+": app.yaml\n")
		expect(plan(fleet.PlanOptions{}), "= keep "+a+"\n? skip "+b+": no longer listed (prune deletes it)")
		p = plan(fleet.PlanOptions{Prune: true})
		expect(p, "= keep "+a+"\n- delete "+b+": no longer listed")
		apply(p)
		if _, err := d.Instance(ctx, b); err == nil {
			t.Errorf("%s survived the prune", b)
		}
		if _, err := d.Instance(ctx, other); err != nil {
			t.Errorf("%s, not of the fleet, is gone: %v", other, err)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.yaml"), "image: x\n")
	for _, tc := range []struct{ content, want string }{
		{"instances: {}\n", "no instances"},
		{"instances:\n  a: missing.yaml\n", "fleet.yaml:2: instance a: open "},
		{"instances:\n  b: app.yaml\n  a: /dev/zero\n", "fleet.yaml:3: instance a: /dev/zero: not a regular file"},
		{"instances:\n  a: fleet.yaml\n", `fleet.yaml:2: instance a: ` + filepath.Join(dir, "fleet.yaml") + `:1: unknown key "instances"`},
		{"instances:\n  a/b: app.yaml\n", `instance "a/b"`},
		{"instances:\n  a: {properties: {x: y}}\n", "instance a: no config file"},
		{"fleet: a.b\ninstances:\n  a: app.yaml\n", `fleet name "a.b"`},
		{"fleets: x\n", `fleet.yaml:1: unknown key "fleets"`},
		{"instances:\n  a:\n    config: app.yaml\n    propreties: {}\n", `fleet.yaml:4: unknown key "propreties"`},
		{"instances: [a]\n", "fleet.yaml:1: cannot unmarshal"},
	} {
		path := filepath.Join(dir, "fleet.yaml")
		writeFile(t, path, tc.content)
		if _, err := fleet.Load(path, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.content, err, tc.want)
		}
	}
}

// TestApplyAfterFailure: one at a time, a failed change stops the plan
// (what follows is not started); two at a time, the change under way
// beside the failed one finishes. The error names the failed change.
func TestApplyAfterFailure(t *testing.T) {
	eachDriver(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 3*time.Minute)
		dir := t.TempDir()
		bad, good := testhost.Name("fbad"), testhost.Name("fgood")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_ = d.Delete(ctx, good)
			_ = d.Delete(ctx, bad)
		})
		writeFile(t, filepath.Join(dir, "bad.yaml"), "image: lxkit-no-such-image\n")
		writeFile(t, filepath.Join(dir, "good.yaml"), "image: "+testhost.Image+"\n")
		fleetFile := filepath.Join(dir, "fleet.yaml")
		writeFile(t, fleetFile, "fleet: "+strings.TrimPrefix(testhost.Name("f"), "lxkit-")+"\ninstances:\n  "+bad+": bad.yaml\n  "+good+": good.yaml\n")
		f, err := fleet.Load(fleetFile, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := fleet.New(d)
		m.Fleet = f.Name
		plan, err := m.Plan(ctx, f, fleet.PlanOptions{})
		if err != nil || len(plan) != 2 || plan[0].Instance != bad {
			t.Fatalf("plan %v, %v; want %s first", planLines(plan), err, bad)
		}
		for _, parallel := range []int{1, 2} {
			var done []string
			err = m.Apply(ctx, plan, fleet.ApplyOptions{Parallel: parallel, Report: func(c fleet.Change) { done = append(done, c.Instance) }})
			if err == nil || !strings.Contains(err.Error(), "create "+bad+": ") || !strings.Contains(err.Error(), "lxkit-no-such-image") {
				t.Errorf("parallel %d: %v; want the failed create named", parallel, err)
			}
			_, gerr := d.Status(ctx, good)
			switch {
			case parallel == 1 && (len(done) != 0 || !errors.Is(gerr, errdefs.ErrNotFound)):
				t.Errorf("one at a time: %v done, %s: %v; want nothing started after the failure", done, good, gerr)
			case parallel == 2 && (len(done) != 1 || done[0] != good || gerr != nil):
				t.Errorf("two at a time: %v done, %s: %v; want it made", done, good, gerr)
			}
		}
	})
}
