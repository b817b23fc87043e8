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
	check("plan", Diff(f, have, images, nil, Sources{}, PlanOptions{}), want)
	want[len(want)-1] = "- delete gone: no longer listed"
	check("pruned", Diff(f, have, images, nil, Sources{}, PlanOptions{Prune: true}), want)

	// An image whose fingerprint is not known asks for no rebuild.
	plan := Diff(f, have, nil, nil, Sources{}, PlanOptions{})
	if plan[4].Action != Update {
		t.Errorf("newimage without a known fingerprint: %s, want an update", plan[4])
	}
}

// Diff on a cluster: instances on a member that is not online are
// unreachable, never made again; creates go where their placement says,
// spread ones evenly over the online members, counting the fleet's
// instances already there.
func TestDiffOnCluster(t *testing.T) {
	at := func(name string, p *spec.Placement) *spec.Spec {
		return &spec.Spec{Name: name, Image: spec.Image{Alias: "base"}, Placement: p}
	}
	spread := &spec.Placement{Spread: true}
	f := &Fleet{Name: "prod", Instances: []*spec.Spec{
		at("old", spread), at("lost", spread),
		at("a", spread), at("b", spread), at("c", spread),
		at("pinned", &spec.Placement{Target: "m2"}),
		at("grouped", &spec.Placement{Group: "gpu"}),
		at("gpu-spread", &spec.Placement{Group: "gpu", Spread: true}),
		at("anywhere", nil),
	}}
	made := func(s *spec.Spec, member string) api.Instance {
		return api.Instance{Name: s.Name, Status: "Running", Location: member, InstancePut: api.InstancePut{Config: createOptions(s, "prod").Config}}
	}
	// The daemons list an instance of a member that is down by its name
	// and location alone: no configuration says whose it is.
	have := []api.Instance{made(f.Instances[0], "m1"), {Name: "lost", Status: "Error", Location: "m2"}}
	members := []api.ClusterMember{
		{ServerName: "m3", Status: "Online", ClusterMemberPut: api.ClusterMemberPut{Groups: []string{"default", "gpu"}}},
		{ServerName: "m1", Status: "Online", ClusterMemberPut: api.ClusterMemberPut{Groups: []string{"default"}}},
		{ServerName: "m2", Status: "Offline", ClusterMemberPut: api.ClusterMemberPut{Groups: []string{"default"}}},
	}
	want := []string{
		"= keep old on m1",
		"x unreachable lost on m2: member m2 is offline",
		"+ create a on m3",      // m1 has old, m3 nothing, m2 is offline
		"+ create b on m1",      // 1 and 1: the first by name
		"+ create c on m3",      // m1 2, m3 1
		"+ create pinned on m2", // as asked, offline or not: the daemon says
		"+ create grouped in group gpu",
		"+ create gpu-spread on m3", // the only online member of gpu
		"+ create anywhere",
	}
	plan := Diff(f, have, map[string]string{}, members, Sources{}, PlanOptions{})
	var got []string
	for _, c := range plan {
		got = append(got, c.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	targets := map[string]string{"a": "m3", "b": "m1", "c": "m3", "pinned": "m2", "grouped": "@gpu", "gpu-spread": "m3", "anywhere": ""}
	for _, c := range plan {
		if want, ok := targets[c.Instance]; ok && c.Target != want {
			t.Errorf("%s: target %q, want %q", c.Instance, c.Target, want)
		}
	}

	// A standalone host ignores placement.
	plan = Diff(f, nil, nil, []api.ClusterMember{{ServerName: "solo", Status: "Standalone"}}, Sources{}, PlanOptions{})
	for _, c := range plan {
		if c.Action != Create || c.Target != "" || c.Member != "" {
			t.Errorf("standalone: %s (target %q)", c, c.Target)
		}
	}
}

// Where an instance goes is not what it is: a placement added to a
// configuration changes no hash, so it asks for no update.
func TestPlacementIsNotHashed(t *testing.T) {
	s := &spec.Spec{Name: "a", Image: spec.Image{Alias: "base"}}
	before := Hash(s)
	s.Placement = &spec.Placement{Target: "m2"}
	if Hash(s) != before {
		t.Error("the placement changed the hash")
	}
}

// Diff sees a change in the profiles and cloud-config files an instance
// was made from, as recorded when it was made, against Sources now.
func TestDiffDrift(t *testing.T) {
	web := func(name string) *spec.Spec {
		return &spec.Spec{Name: name, Image: spec.Image{Alias: "base"}, Profiles: []string{"default", "web"},
			CloudConfig: []string{"/cfg/base.cfg", "/cfg/web.cfg"}}
	}
	then := Sources{
		Profiles:    map[string]string{"default": "d1", "web": "w1"},
		CloudConfig: map[string]string{"/cfg/base.cfg": "b1", "/cfg/web.cfg": "c1"},
	}
	// An instance as the fleet made it from s, with src as it was then.
	made := func(s *spec.Spec, status string, src Sources) api.Instance {
		inst := api.Instance{Name: s.Name, Status: status, InstancePut: api.InstancePut{Config: createOptions(s, "prod").Config, Profiles: s.Profiles}}
		inst.Config[KeyProfiles] = recordProfiles(s, src)
		inst.Config[KeyCloudConfig] = recordCloudConfig(s, src)
		return inst
	}
	if got := recordProfiles(web("x"), then); got != "default=d1,web=w1" {
		t.Errorf("recorded profiles: %q", got)
	}
	if got := recordCloudConfig(web("x"), then); got != "base.cfg=b1,web.cfg=c1" {
		t.Errorf("recorded cloud-config: %q", got)
	}
	if got := recordCloudConfig(&spec.Spec{}, then); got != "none" {
		t.Errorf("recorded cloud-config of none: %q", got)
	}
	f := &Fleet{Name: "prod", Instances: []*spec.Spec{web("same"), web("stopped"), web("changed"), web("old"), web("fewer")}}
	changed := web("changed")
	changed.Config = map[string]string{"limits.cpu": "1"}
	fewer := web("fewer")
	fewer.CloudConfig = fewer.CloudConfig[1:]
	old := made(f.Instances[3], "Running", then)
	delete(old.Config, KeyCloudConfig) // made before lxkit recorded them
	old.Config[KeyProfiles] = ""
	have := []api.Instance{
		made(f.Instances[0], "Running", then),
		made(f.Instances[1], "Stopped", then),
		made(changed, "Running", then),
		old,
		made(fewer, "Running", then),
	}
	check := func(what string, src Sources, want ...string) {
		t.Helper()
		var got []string
		for _, c := range Diff(f, have, nil, nil, src, PlanOptions{}) {
			got = append(got, c.String())
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check("nothing changed", then,
		"= keep same", "> start stopped: stopped", `~ update changed: config limits.cpu removed`, "= keep old",
		"~ update fewer: cloud-config files [web.cfg] -> [base.cfg web.cfg]")
	// Sources that say nothing compare nothing.
	check("nothing known", Sources{},
		"= keep same", "> start stopped: stopped", `~ update changed: config limits.cpu removed`, "= keep old",
		"~ update fewer: cloud-config files [web.cfg] -> [base.cfg web.cfg]")

	now := Sources{
		Profiles:    map[string]string{"default": "d1", "web": "w2"},
		CloudConfig: map[string]string{"/cfg/base.cfg": "b1", "/cfg/web.cfg": "c2"},
	}
	check("profile and file changed", now,
		"~ update same: profile web changed; cloud-config web.cfg changed",
		"> start stopped: stopped; profile web changed; cloud-config web.cfg changed",
		`~ update changed: config limits.cpu removed; profile web changed; cloud-config web.cfg changed`,
		"= keep old",
		"~ update fewer: profile web changed; cloud-config files [web.cfg] -> [base.cfg web.cfg]")
	plan := Diff(f, have, nil, nil, now, PlanOptions{})
	if d := plan[1].Drift; len(d) != 2 || plan[0].Drift == nil || plan[3].Drift != nil {
		t.Errorf("Drift: %q %q %q", plan[0].Drift, d, plan[3].Drift)
	}
}

// cloudConfigChanged: files are applied again when they differ from
// those recorded, not for an instance without a record, nor when the
// Spec names none any more.
func TestCloudConfigChanged(t *testing.T) {
	inst := func(rec string) api.Instance {
		i := api.Instance{InstancePut: api.InstancePut{Config: map[string]string{}}}
		if rec != "" {
			i.Config[KeyCloudConfig] = rec
		}
		return i
	}
	for _, tc := range []struct {
		rec, want string
		changed   bool
	}{
		{"web.cfg=a", "web.cfg=a", false},
		{"web.cfg=a", "web.cfg=b", true},
		{"none", "web.cfg=b", true},
		{"", "web.cfg=b", false},
		{"web.cfg=a", "none", false},
	} {
		if got := cloudConfigChanged(inst(tc.rec), tc.want); got != tc.changed {
			t.Errorf("recorded %q, now %q: changed %v, want %v", tc.rec, tc.want, got, tc.changed)
		}
	}
}

// A profile's hash is that of what it gives instances: its description
// is left out, and no map and an empty one are the same.
func TestProfileHash(t *testing.T) {
	a := ProfileHash(api.ProfilePut{Config: map[string]string{"limits.cpu": "1"}})
	if b := ProfileHash(api.ProfilePut{Description: "x", Config: map[string]string{"limits.cpu": "1"}, Devices: map[string]map[string]string{}}); a != b {
		t.Errorf("description or empty devices changed the hash: %s %s", a, b)
	}
	if b := ProfileHash(api.ProfilePut{Config: map[string]string{"limits.cpu": "2"}}); a == b {
		t.Error("a config change kept the hash")
	}
	if b := ProfileHash(api.ProfilePut{Config: map[string]string{"limits.cpu": "1"}, Devices: map[string]map[string]string{"d": {"type": "none"}}}); a == b {
		t.Error("a device kept the hash")
	}
}

// Views: the instance and its Spec as lxkit diff shows them.
func TestViews(t *testing.T) {
	s := &spec.Spec{Name: "web", Image: spec.Image{Alias: "base"}, Profiles: []string{"default"},
		Config:  map[string]string{"limits.cpu": "2", "user.a": "x"},
		Devices: map[string]map[string]string{"eth0": {"type": "nic", "network": "br0"}},
		Volumes: map[string]spec.Volume{"data": {Pool: "default", Volume: "web-data", Path: "/srv", Config: map[string]string{"size": "1GiB"}}},
	}
	inst := api.Instance{Name: "web", InstancePut: api.InstancePut{Profiles: []string{"default", "extra"},
		Config:  map[string]string{"limits.cpu": "1", "user.a": "x", "user.hand": "y", "volatile.base_image": "abcdef0123456789", "image.os": "Debian", KeyHash: "h"},
		Devices: map[string]map[string]string{"eth0": {"type": "nic", "network": "br0"}},
	}}
	have, want := Views(s, inst, "abcdef012345", nil)
	if have.Image != "abcdef012345" || want.Image != "abcdef012345" {
		t.Errorf("images: %q %q", have.Image, want.Image)
	}
	if len(have.Config) != 3 || have.Config["user.hand"] != "y" || len(want.Config) != 2 || want.Config["limits.cpu"] != "2" {
		t.Errorf("configs: %v %v", have.Config, want.Config)
	}
	if want.Devices["data"]["source"] != "web-data" || have.Devices["data"] != nil {
		t.Errorf("devices: %v %v", have.Devices, want.Devices)
	}
	if have.Volumes != nil || want.Volumes["data"].Config["size"] != "1GiB" {
		t.Errorf("volumes: %v %v", have.Volumes, want.Volumes)
	}
	vol := &api.StorageVolume{Name: "web-data", StorageVolumePut: api.StorageVolumePut{Config: map[string]string{"size": "1GiB", "other": "z"}}}
	have, _ = Views(s, inst, "", map[string]*api.StorageVolume{"data": vol})
	if hv := have.Volumes["data"]; hv.Volume != "web-data" || len(hv.Config) != 1 || have.Image != "" {
		t.Errorf("volume on the host: %+v, image %q", have.Volumes, have.Image)
	}
	// No profiles in the Spec: the daemon's are not compared.
	s.Profiles = nil
	if _, want := Views(s, inst, "", nil); len(want.Profiles) != 2 {
		t.Errorf("profiles left to the daemon: %v", want.Profiles)
	}
}

// Diff of instances copied from a template snapshot (origin): a newer
// snapshot, or a change between an image and an origin, is a rebuild;
// the same origin with another config key is an update; the template's
// image fingerprint (which a copy keeps) asks for nothing.
func TestDiffOrigin(t *testing.T) {
	const fp1 = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	clone := func(name, origin string, config map[string]string) *spec.Spec {
		return &spec.Spec{Name: name, Origin: origin, Config: config}
	}
	f := &Fleet{Name: "prod", Instances: []*spec.Spec{
		clone("same", "tpl/s1", nil),
		clone("newer", "tpl/s2", nil),
		clone("changed", "tpl/s1", map[string]string{"user.x": "2"}),
		clone("fromimage", "tpl/s1", nil),
		{Name: "toimage", Image: spec.Image{Alias: "base"}},
	}}
	made := func(s *spec.Spec) api.Instance {
		inst := api.Instance{Name: s.Name, Status: "Running", InstancePut: api.InstancePut{Config: createOptions(s, "prod").Config}}
		inst.Config["volatile.base_image"] = fp1
		return inst
	}
	have := []api.Instance{
		made(f.Instances[0]),
		made(clone("newer", "tpl/s1", nil)),
		made(clone("changed", "tpl/s1", map[string]string{"user.x": "1"})),
		made(&spec.Spec{Name: "fromimage", Image: spec.Image{Alias: "base"}}),
		made(clone("toimage", "tpl/s1", nil)),
	}
	want := []string{
		"= keep same",
		"! rebuild newer: origin tpl/s1 -> tpl/s2",
		`~ update changed: config user.x "1" -> "2"`,
		"! rebuild fromimage: origin (image) -> tpl/s1",
		"! rebuild toimage: origin tpl/s1 -> (image)",
	}
	var got []string
	for _, c := range Diff(f, have, map[string]string{"base": fp1}, nil, Sources{}, PlanOptions{}) {
		got = append(got, c.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if o := createOptions(f.Instances[1], "prod"); o.Source != "tpl/s2" || o.Image.Alias != "" || o.Config[KeyOrigin] != "tpl/s2" {
		t.Errorf("create options of a clone: source %q, image %+v, config %v", o.Source, o.Image, o.Config)
	}
}

// Cloud-config files handed to the image's cloud-init, which applies them
// at the first boot only, ask for a rebuild when they change; a profile's
// change is still an update.
func TestDiffNativeDrift(t *testing.T) {
	s := &spec.Spec{Name: "n", Image: spec.Image{Alias: "base"}, Profiles: []string{"web"},
		CloudConfig: []string{"/cfg/web.cfg"}, CloudConfigMode: spec.CloudConfigNative}
	then := Sources{Profiles: map[string]string{"web": "w1"}, CloudConfig: map[string]string{"/cfg/web.cfg": "c1"}}
	inst := api.Instance{Name: "n", Status: "Running", InstancePut: api.InstancePut{Config: createOptions(s, "prod").Config, Profiles: s.Profiles}}
	inst.Config[KeyProfiles] = recordProfiles(s, then)
	inst.Config[KeyCloudConfig] = recordCloudConfig(s, then)
	f := &Fleet{Name: "prod", Instances: []*spec.Spec{s}}
	for _, tc := range []struct {
		src  Sources
		want string
	}{
		{then, "= keep n"},
		{Sources{Profiles: map[string]string{"web": "w2"}, CloudConfig: then.CloudConfig}, "~ update n: profile web changed"},
		{Sources{Profiles: then.Profiles, CloudConfig: map[string]string{"/cfg/web.cfg": "c2"}}, "! rebuild n: cloud-config web.cfg changed"},
	} {
		if got := Diff(f, []api.Instance{inst}, nil, nil, tc.src, PlanOptions{})[0].String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
