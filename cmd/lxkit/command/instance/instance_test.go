package instance

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
)

func TestLooksLikeFingerprint(t *testing.T) {
	for in, want := range map[string]bool{
		"bef9ee819d41": true,
		"BEF9EE819D41": true,
		"bef9ee819d417a0dc89e0f83299db24b3becf1167d7b4627e417420ee80a7165": true,
		"bef9ee819d4":  false, // too short to tell from an alias
		"testimage":    false,
		"deadbeef":     false,
		"bef9ee819d4g": false,
		"":             false,
	} {
		if got := LooksLikeFingerprint(in); got != want {
			t.Errorf("LooksLikeFingerprint(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestFilter(t *testing.T) {
	all := []Record{
		{Instance: api.Instance{Name: "web-2", Status: "Stopped"}},
		{Instance: api.Instance{Name: "db", Status: "Running"}},
		{Instance: api.Instance{Name: "web-1", Status: "Running"}},
		{Instance: api.Instance{Name: "web-3", Status: "Frozen"}},
	}
	tests := []struct {
		prefix   string
		statuses []string
		want     []string
	}{
		{"", nil, []string{"db", "web-1", "web-2", "web-3"}},
		{"web-", nil, []string{"web-1", "web-2", "web-3"}},
		{"web-", []string{"running"}, []string{"web-1"}},
		{"", []string{"stopped", "frozen"}, []string{"web-2", "web-3"}},
		{"x", nil, []string{}},
	}
	for _, tt := range tests {
		if got := names(filter(all, tt.prefix, tt.statuses, nil)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("filter(%q, %v) = %v; want %v", tt.prefix, tt.statuses, got, tt.want)
		}
	}
}

func TestParseUpdate(t *testing.T) {
	u, err := parseUpdate([]string{"a=1", "b="}, []string{"d,type=none"}, []string{"old"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{"d": {"type": "none"}, "old": nil}
	if !reflect.DeepEqual(u.Devices, want) || !reflect.DeepEqual(u.Config, map[string]string{"a": "1", "b": ""}) {
		t.Errorf("parseUpdate = %+v", u)
	}
	for _, bad := range [][3][]string{
		{{"=x"}, nil, nil},
		{nil, {"nameonly"}, nil},
		{nil, nil, {""}},
		{nil, {"d,type=none"}, {"d"}},
	} {
		if _, err := parseUpdate(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("parseUpdate(%q) succeeded; want an error", bad)
		}
	}
}

func TestResolveImageCertificate(t *testing.T) {
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "server.crt")
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(pemFile, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := resolveImage(context.Background(), &LaunchOptions{Image: "busybox", Server: "https://127.0.0.1:8999", Protocol: "simplestreams", CertFile: pemFile}, nil)
	if err != nil || img.Certificate != pem || img.Alias != "busybox" || img.Server == "" {
		t.Fatalf("resolveImage: %+v, %v", img, err)
	}
	notPEM := filepath.Join(dir, "junk")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{notPEM, filepath.Join(dir, "missing")} {
		if _, err := resolveImage(context.Background(), &LaunchOptions{Image: "x", Server: "https://h", CertFile: f}, nil); err == nil {
			t.Errorf("--certificate %s accepted", f)
		}
	}
}

// TestColumnsAndFilters: -c takes lxc's letters, names and configuration
// keys; KEY=VALUE filters match status, type and location in any case,
// configuration values exactly, any of several values, all filters at
// once.
func TestColumnsAndFilters(t *testing.T) {
	web := Record{Instance: api.Instance{Name: "web", Status: "Running", Type: "container", Location: "m1",
		InstancePut: api.InstancePut{Profiles: []string{"default", "web"}}, ExpandedConfig: map[string]string{"user.role": "web"}},
		Snapshots: []api.InstanceSnapshot{{Name: "s0"}, {Name: "s1"}}}
	vm := Record{Instance: api.Instance{Name: "vm", Status: "Stopped", Type: "virtual-machine", Location: "m2",
		ExpandedConfig: map[string]string{"user.role": "db"}}}
	for spec, want := range map[string]string{
		"ns":                        "NAME STATUS|web running|vm stopped",
		"n,type,S":                  "NAME TYPE SNAPSHOTS|web container 2|vm virtual-machine 0",
		"nL,profiles":               "NAME LOCATION PROFILES|web m1 default,web|vm m2 ",
		"n,user.role,config:user.x": "NAME USER.ROLE USER.X|web web |vm db ",
	} {
		cols, err := parseColumns(spec)
		if err != nil {
			t.Fatalf("-c %s: %v", spec, err)
		}
		var lines []string
		for _, r := range []*Record{nil, &web, &vm} {
			var cells []string
			for _, c := range cols {
				if r == nil {
					cells = append(cells, c.header)
				} else {
					cells = append(cells, c.cell(r))
				}
			}
			lines = append(lines, strings.Join(cells, " "))
		}
		if got := strings.Join(lines, "|"); got != want {
			t.Errorf("-c %s: %q, want %q", spec, got, want)
		}
	}
	for _, bad := range []string{"nZ", "n,,s", ""} {
		if _, err := parseColumns(bad); err == nil || !cmdutil.IsUsage(err) {
			t.Errorf("-c %q: %v, want a usage error", bad, err)
		}
	}
	for args, want := range map[string]string{
		"status=running":                      "web",
		"type=VIRTUAL-MACHINE":                "vm",
		"location=m1,m2":                      "vm web",
		"user.role=db":                        "vm",
		"config.user.role=web status=STOPPED": "",
		"user.role=web,db type=container":     "web",
	} {
		var fs []listFilter
		for _, a := range strings.Fields(args) {
			f, err := parseFilter(a)
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			fs = append(fs, f)
		}
		if got := strings.Join(names(filter([]Record{web, vm}, "", nil, fs)), " "); got != want {
			t.Errorf("list %s: %q, want %q", args, got, want)
		}
	}
	for _, bad := range []string{"=x", "colour=red"} {
		if _, err := parseFilter(bad); err == nil || !cmdutil.IsUsage(err) {
			t.Errorf("filter %q: %v, want a usage error", bad, err)
		}
	}
}

func names(recs []Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Name)
	}
	return out
}
