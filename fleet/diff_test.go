package fleet

import (
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/spec"
)

// Diff on its own: a fleet and a host's instances in, a plan out.
func TestDiff(t *testing.T) {
	const fp1 = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	const fp2 = "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"
	web := func(name string, config map[string]string) *spec.Spec {
		return &spec.Spec{Name: name, Image: spec.Image{Alias: "base"}, Config: config}
	}
	f := &Fleet{Name: "prod", Instances: []*spec.Spec{
		web("new", nil),
		web("same", map[string]string{"limits.cpu": "1"}),
		web("stopped", nil),
		web("changed", map[string]string{"limits.cpu": "2"}),
		web("newimage", nil),
		web("foreign", nil),
		web("manual", nil),
	}}
	// An instance as the fleet made it from s, on image fp.
	made := func(s *spec.Spec, status, fp string) api.Instance {
		inst := api.Instance{Name: s.Name, Status: status, InstancePut: api.InstancePut{Config: createOptions(s, "prod").Config}}
		inst.Config["volatile.base_image"] = fp
		return inst
	}
	changed := made(web("changed", map[string]string{"limits.cpu": "1", "user.x": "y"}), "Running", fp1)
	newimage := made(web("newimage", map[string]string{"old": "1"}), "Running", fp2)
	foreign := made(web("foreign", nil), "Running", fp1)
	foreign.Config[KeyFleet] = "staging"
	gone := made(web("gone", nil), "Running", fp1)
	have := []api.Instance{
		made(f.Instances[1], "Running", fp1),
		made(f.Instances[2], "Stopped", fp1),
		changed, newimage, foreign, gone,
		{Name: "manual", Status: "Running"},
	}
	images := map[string]string{"base": fp1}

	want := []string{
		"+ create new",
		"= keep same",
		"> start stopped: stopped",
		`~ update changed: config limits.cpu "1" -> "2"; config user.x removed`,
		"! rebuild newimage: image bbbbbbbbbbbb -> aaaaaaaaaaaa",
		"? skip foreign: of fleet staging",
		"? skip manual: made outside any fleet",
		"? skip gone: no longer listed (prune deletes it)",
	}
	check := func(what string, plan []Change, want []string) {
		t.Helper()
		var got []string
		for _, c := range plan {
			got = append(got, c.String())
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check("plan", Diff(f, have, images, PlanOptions{}), want)
	want[len(want)-1] = "- delete gone: no longer listed"
	check("pruned", Diff(f, have, images, PlanOptions{Prune: true}), want)

	// An image whose fingerprint is not known asks for no rebuild.
	plan := Diff(f, have, nil, PlanOptions{})
	if plan[4].Action != Update {
		t.Errorf("newimage without a known fingerprint: %s, want an update", plan[4])
	}
}
