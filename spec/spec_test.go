package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

// files writes name -> content into a temporary directory.
func files(t *testing.T, m map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range m {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIncludesAndProperties(t *testing.T) {
	dir := files(t, map[string]string{
		"base.yaml": `image: testimage
profiles: [default]
config:
  limits.memory: 128MiB
  user.site: ${site}
properties:
  site: base.example
  tier: base
cloud-config: [base.cfg]
`,
		"common/net.yaml": `devices:
  eth0: {type: nic, network: "br-${tier}", name: eth0}
`,
		"web.yaml": `include: [base.yaml, common/net.yaml]
profiles: [web, default]
config:
  limits.memory: 256MiB
  user.name: ${instance}
  user.literal: "$${instance} costs $$5"
properties:
  tier: web
volumes:
  data: {path: /srv/data, config: {size: 1GiB}}
  logs: {pool: fast, volume: shared-logs, path: /var/log/app, device: {readonly: "true"}}
cloud-config: [web.cfg]
`,
	})
	tpl, err := Load(filepath.Join(dir, "web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tpl.Instance("web1", map[string]string{"site": "cli.example"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Name:     "web1",
		Image:    Image{Alias: "testimage"},
		Profiles: []string{"default", "web"},
		Config: map[string]string{
			"limits.memory": "256MiB", "user.site": "cli.example", "user.name": "web1",
			"user.literal": "${instance} costs $5",
		},
		Devices: map[string]map[string]string{"eth0": {"type": "nic", "network": "br-web", "name": "eth0"}},
		Volumes: map[string]Volume{
			"data": {Pool: "default", Volume: "web1-data", Path: "/srv/data", Config: map[string]string{"size": "1GiB"}},
			"logs": {Pool: "fast", Volume: "shared-logs", Path: "/var/log/app", Device: map[string]string{"readonly": "true"}},
		},
		CloudConfig: []string{filepath.Join(dir, "base.cfg"), filepath.Join(dir, "web.cfg")},
		Properties:  map[string]string{"site": "cli.example", "tier": "web", "instance": "web1"},
		Files:       []string{filepath.Join(dir, "web.yaml"), filepath.Join(dir, "common/net.yaml"), filepath.Join(dir, "base.yaml")},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("spec:\n%#v\nwant:\n%#v", s, want)
	}
	// A second instance of the same template is independent.
	s2, err := tpl.Instance("web2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Config["user.site"] != "base.example" || s2.Volumes["data"].Volume != "web2-data" || s.Config["user.name"] != "web1" {
		t.Errorf("second instance: %+v", s2)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // in the error, after the directory
	}{
		{"unknown key", map[string]string{"a.yaml": "image: x\nprofile: [default]\n"}, `a.yaml:2: unknown key "profile"`},
		{"unknown nested key", map[string]string{"a.yaml": "image: x\nvolumes:\n  d:\n    path: /d\n    size: 1G\n"}, `a.yaml:5: unknown key "size"`},
		{"unknown image key", map[string]string{"a.yaml": "image:\n  alias: x\n  remote: y\n"}, `a.yaml:3: unknown key "remote"`},
		{"wrong type", map[string]string{"a.yaml": "image: x\nprofiles: default\n"}, "a.yaml:2: cannot unmarshal"},
		{"bad yaml", map[string]string{"a.yaml": "image: x\nconfig: {a: 1\n"}, "a.yaml:"},
		{"not a mapping", map[string]string{"a.yaml": "- image\n"}, "a.yaml:1: expected a mapping"},
		{"cloud-config", map[string]string{"a.yaml": "#cloud-config\nruncmd: [ls]\n"}, "a.yaml: a #cloud-config file"},
		{"unknown property", map[string]string{"a.yaml": "image: x\nconfig:\n  user.a: ${nope}\n"}, "a.yaml:3: unknown property ${nope} (known: instance)"},
		{"unclosed", map[string]string{"a.yaml": "image: x\nconfig:\n  user.a: ${instance\n"}, "a.yaml:3: unclosed ${"},
		{"no image", map[string]string{"a.yaml": "profiles: [default]\n"}, "a.yaml: image: give an alias or a fingerprint"},
		{"two images", map[string]string{"a.yaml": "image: {alias: x, fingerprint: abc}\n"}, "a.yaml: image: give an alias or a fingerprint"},
		{"relative volume path", map[string]string{"a.yaml": "image: x\nvolumes:\n  d: {path: srv}\n"}, "volume d: path must be an absolute path"},
		{"volume and device", map[string]string{"a.yaml": "image: x\nvolumes:\n  d: {path: /d}\ndevices:\n  d: {type: none}\n"}, "volume d: a device of that name exists too"},
		{"missing include", map[string]string{"a.yaml": "image: x\ninclude: [c.yaml,\n  b.yaml]\n", "c.yaml": ""}, "a.yaml:3: include: open "},
		{"cycle", map[string]string{"a.yaml": "include: [b.yaml]\nimage: x\n", "b.yaml": "\ninclude: [a.yaml]\n"}, "b.yaml:2: include cycle: "},
		{"self", map[string]string{"a.yaml": "image: x\ninclude:\n  - a.yaml\n"}, "a.yaml:3: include cycle: "},
		{"error in include", map[string]string{"a.yaml": "include: [b.yaml]\nimage: x\n", "b.yaml": "\n\nbogus: 1\n"}, `b.yaml:3: unknown key "bogus"`},
		{"target and spread", map[string]string{"a.yaml": "image: x\nplacement: {target: m1, spread: true}\n"}, "a.yaml: placement: target names one member"},
		{"origin without snapshot", map[string]string{"a.yaml": "config: {}\norigin: tpl\n"}, "a.yaml:2: origin \"tpl\": want TEMPLATE/SNAPSHOT"},
		{"origin empty snapshot", map[string]string{"a.yaml": "origin: tpl/\n"}, "a.yaml:1: origin \"tpl/\": want TEMPLATE/SNAPSHOT"},
		{"origin too deep", map[string]string{"a.yaml": "origin: a/b/c\n"}, "a.yaml:1: origin \"a/b/c\": want"},
		{"origin and image", map[string]string{"a.yaml": "image: x\n\norigin: tpl/s\n"}, "a.yaml:3: give image: or origin:, not both"},
		{"origin of itself", map[string]string{"a.yaml": "origin: ${instance}/s\n"}, "a.yaml:1: origin \"i/s\": the instance i cannot be its own template"},
		{"origin wrong type", map[string]string{"a.yaml": "origin: [tpl, s]\n"}, "a.yaml:1: cannot unmarshal"},
		{"volume origin", map[string]string{"a.yaml": "image: x\nvolumes:\n  d:\n    path: /d\n    origin: /s\n"}, "a.yaml:5: volume d: origin \"/s\": want TEMPLATE or TEMPLATE/SNAPSHOT"},
		{"volume origin of itself", map[string]string{"a.yaml": "image: x\nvolumes:\n  d: {path: /d, origin: i}\n"}, "a.yaml:3: volume d: origin \"i\": the instance i cannot"},
		{"unknown cloud-config mode", map[string]string{"a.yaml": "image: x\n\ncloud-config-mode: cloud-init\n"}, `a.yaml:3: cloud-config-mode: "cloud-init" is not api or native`},
		{"unknown cloud-config mode in include", map[string]string{"a.yaml": "include: [b.yaml]\nimage: x\n", "b.yaml": "cloud-config-mode: ${m}\nproperties: {m: Native}\n"}, `b.yaml:1: cloud-config-mode: "Native" is not api or native`},
		{"unknown placement key", map[string]string{"a.yaml": "image: x\nplacement:\n  member: m1\n"}, `a.yaml:3: unknown key "member"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := files(t, tc.files)
			tpl, err := Load(filepath.Join(dir, "a.yaml"))
			if err == nil {
				_, err = tpl.Instance("i", nil)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("error %v is not invalid argument", err)
			}
		})
	}
}

func TestIncludeSharedOnce(t *testing.T) {
	dir := files(t, map[string]string{
		"a.yaml":    "include: [b.yaml, c.yaml]\n",
		"b.yaml":    "include: [base.yaml]\nprofiles: [b]\n",
		"c.yaml":    "include: [base.yaml]\nprofiles: [c]\n",
		"base.yaml": "image: x\nprofiles: [base]\n",
	})
	tpl, err := Load(filepath.Join(dir, "a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tpl.Instance("i", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Profiles, ",") != "base,b,c" || len(s.Files) != 4 {
		t.Errorf("profiles %v, files %v", s.Profiles, s.Files)
	}
}

func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(dir): %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("image: x\n"+strings.Repeat("#", maxSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big): %v", err)
	}
}

func TestExpand(t *testing.T) {
	v := map[string]string{"a": "A", "b": "${a}"}
	for in, want := range map[string]string{
		"": "", "x": "x", "${a}": "A", "x${a}y${a}": "xAyA", "$$": "$", "$${a}": "${a}", "$": "$", "a$": "a$",
		"$x": "$x", "${b}": "${a}", // values are not expanded again
	} {
		if got, err := Expand(in, v); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzInstance(f *testing.F) {
	for _, seed := range []string{
		"image: x\n", "include: [a]\n", "image: {alias: x}\nvolumes:\n  d: {path: /d}\n",
		"config: {a: ${instance}}\nimage: x\n", "a: &x [*x]\n", "image: !!binary aGk=\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p, err := parse("fuzz.yaml", []byte(data))
		if err != nil {
			return
		}
		p.file.Include = nil // no files
		tpl := &Template{path: "fuzz.yaml", files: []parsed{p}}
		_, _ = tpl.Instance("i", map[string]string{"p": "$"})
	})
}

// A placement is read like the rest, an includer's winning.
func TestPlacement(t *testing.T) {
	dir := files(t, map[string]string{
		"base.yaml": "image: x\nplacement: {group: gpu, spread: true}\n",
		"a.yaml":    "include: [base.yaml]\n",
		"b.yaml":    "include: [base.yaml]\nplacement: {target: m2}\n",
	})
	for file, want := range map[string]Placement{"a.yaml": {Group: "gpu", Spread: true}, "b.yaml": {Target: "m2"}} {
		tpl, err := Load(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		s, err := tpl.Instance("i", nil)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if s.Placement == nil || *s.Placement != want {
			t.Errorf("%s: placement %+v; want %+v", file, s.Placement, want)
		}
	}
}

// TestOrigin: origin: replaces the image (and an includer's image:
// replaces an included origin:), and volumes keep theirs.
func TestOrigin(t *testing.T) {
	dir := files(t, map[string]string{
		"template.yaml": "image: testimage\nvolumes:\n  data: {path: /srv/data}\n",
		"clone.yaml":    "include: [template.yaml]\norigin: ${tpl}/${snap}\nvolumes:\n  data: {path: /srv/data, origin: \"${tpl}\"}\n  logs: {path: /var/log, origin: \"${tpl}/${snap}\"}\nproperties: {tpl: t, snap: s1}\n",
		"image.yaml":    "include: [clone.yaml]\nimage: other\n",
	})
	tpl, err := Load(filepath.Join(dir, "clone.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tpl.Instance("c1", map[string]string{"snap": "s2"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin != "t/s2" || s.Image != (Image{}) {
		t.Errorf("origin %q, image %+v; want t/s2 and no image", s.Origin, s.Image)
	}
	if s.Volumes["data"].Origin != "t" || s.Volumes["logs"].Origin != "t/s2" || s.Volumes["data"].Volume != "c1-data" {
		t.Errorf("volumes = %+v", s.Volumes)
	}
	tpl, err = Load(filepath.Join(dir, "image.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err = tpl.Instance("c2", nil); err != nil {
		t.Fatal(err)
	}
	if s.Origin != "" || s.Image.Alias != "other" {
		t.Errorf("origin %q, image %+v; want the includer's image", s.Origin, s.Image)
	}
}

// cloud-config-mode is a scalar like image:, an includer's winning; api,
// the default, is held as "" so that both spellings hash alike.
func TestCloudConfigMode(t *testing.T) {
	dir := files(t, map[string]string{
		"native.yaml": "image: x\ncloud-config-mode: native\n",
		"none.yaml":   "include: [native.yaml]\n",
		"api.yaml":    "include: [native.yaml]\ncloud-config-mode: api\n",
		"prop.yaml":   "image: x\ncloud-config-mode: ${mode}\nproperties: {mode: api}\n",
	})
	for file, want := range map[string]string{"native.yaml": CloudConfigNative, "none.yaml": CloudConfigNative, "api.yaml": "", "prop.yaml": ""} {
		tpl, err := Load(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		s, err := tpl.Instance("i", nil)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if s.CloudConfigMode != want {
			t.Errorf("%s: cloud-config-mode %q; want %q", file, s.CloudConfigMode, want)
		}
	}
	tpl, err := Load(filepath.Join(dir, "prop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tpl.Instance("i", map[string]string{"mode": "native"}); err != nil || s.CloudConfigMode != CloudConfigNative {
		t.Errorf("-p mode=native: %+v, %v; want native", s, err)
	}
}
