package hostcmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/spf13/cobra"
)

// root returns the host commands under a bare root, as cmd.NewCmdRoot
// adds them, with runF for each.
func root(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	r := &cobra.Command{Use: "lxkit", SilenceErrors: true, SilenceUsage: true}
	r.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	r.SetOut(io.Discard)
	r.PersistentFlags().StringVar(&f.Globals.Format, "format", cmdutil.FormatTable, "")
	r.AddCommand(NewCmdProfile(f, runF), NewCmdProject(f, runF), NewCmdStorage(f, runF), NewCmdNetwork(f, runF),
		NewCmdSnapshot(f, runF), NewCmdConfig(f, runF), NewCmdOperation(f, runF), NewCmdCluster(f, runF))
	return r
}

// parse runs args and returns the options the command would run with.
func parse(args ...string) (*Options, error) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	r := root(cmdutil.NewFactory(ios), func(_ context.Context, o *Options) error { got = o; return nil })
	r.SetArgs(args)
	err := r.Execute()
	return got, err
}

func ptr(s string) *string { return &s }

func TestParse(t *testing.T) {
	tests := []struct {
		args string
		want Options // IO, Globals and Driver are not compared
	}{
		{"profile list", Options{Action: "list"}},
		{"profile list we", Options{Action: "list", Prefix: "we"}},
		{"profile list outer/", Options{Action: "list", Host: "outer"}},
		{"profile list outer/mid/we", Options{Action: "list", Host: "outer/mid", Prefix: "we"}},
		{"profile show outer/web", Options{Action: "show", Host: "outer", Names: []string{"web"}}},
		{"profile create web user.a=1 user.b=x=y --description D --device d,type=disk,path=/mnt,source=/srv",
			Options{Action: "create", Names: []string{"web"}, Config: map[string]string{"user.a": "1", "user.b": "x=y"}, Description: ptr("D"),
				Devices: map[string]map[string]string{"d": {"type": "disk", "path": "/mnt", "source": "/srv"}}}},
		{"profile create outer/web", Options{Action: "create", Host: "outer", Names: []string{"web"}, Config: map[string]string{},
			Devices: map[string]map[string]string{}}},
		{"profile set web user.a=1 user.b=", Options{Action: "set", Names: []string{"web"}, Config: map[string]string{"user.a": "1", "user.b": ""}}},
		{"profile set web --description=", Options{Action: "set", Names: []string{"web"}, Config: map[string]string{}, Description: ptr("")}},
		{"profile unset outer/web user.a user.b", Options{Action: "unset", Host: "outer", Names: []string{"web"}, Config: map[string]string{"user.a": "", "user.b": ""}}},
		{"profile rename outer/a b", Options{Action: "rename", Host: "outer", Names: []string{"a"}, NewName: "b"}},
		{"profile rename outer/a outer/b", Options{Action: "rename", Host: "outer", Names: []string{"a"}, NewName: "b"}},
		{"profile delete a b", Options{Action: "delete", Names: []string{"a", "b"}}},
		{"profile delete o/a o/b", Options{Action: "delete", Host: "o", Names: []string{"a", "b"}}},
		{"profile device add o/web eth1 nic network=br0 name=eth1", Options{Action: "device add", Host: "o", Names: []string{"web"},
			Devices: map[string]map[string]string{"eth1": {"type": "nic", "network": "br0", "name": "eth1"}}}},
		{"profile device remove web a b", Options{Action: "device remove", Names: []string{"web"}, Devices: map[string]map[string]string{"a": nil, "b": nil}}},
		{"project create p features.images=false", Options{Action: "create", Names: []string{"p"}, Config: map[string]string{"features.images": "false"}}},
		{"storage create p dir source=/srv", Options{Action: "create", Names: []string{"p"}, Type: "dir", Config: map[string]string{"source": "/srv"}}},
		{"storage volume list outer/p", Options{Action: "list", Host: "outer", Parent: "p"}},
		{"storage volume create outer/p v user.a=1", Options{Action: "create", Host: "outer", Parent: "p", Names: []string{"v"}, Config: map[string]string{"user.a": "1"}}},
		{"storage volume rename p v w", Options{Action: "rename", Parent: "p", Names: []string{"v"}, NewName: "w"}},
		{"storage volume delete p v w", Options{Action: "delete", Parent: "p", Names: []string{"v", "w"}}},
		{"network create n ipv4.address=none", Options{Action: "create", Names: []string{"n"}, Type: "bridge", Config: map[string]string{"ipv4.address": "none"}}},
		{"network create n --type macvlan parent=eth0", Options{Action: "create", Names: []string{"n"}, Type: "macvlan", Config: map[string]string{"parent": "eth0"}}},
		{"snapshot list outer/c", Options{Action: "list", Host: "outer", Parent: "c"}},
		{"snapshot create outer/c", Options{Action: "create", Host: "outer", Parent: "c"}},
		{"snapshot create c s1", Options{Action: "create", Parent: "c", Names: []string{"s1"}}},
		{"snapshot restore c s1", Options{Action: "restore", Parent: "c", Names: []string{"s1"}}},
		{"snapshot delete c s1 s2", Options{Action: "delete", Parent: "c", Names: []string{"s1", "s2"}}},
		{"config show", Options{Action: "show"}},
		{"config show outer/", Options{Action: "show", Host: "outer"}},
		{"config get outer/core.https_address", Options{Action: "get", Host: "outer", Names: []string{"core.https_address"}}},
		{"config set outer/core.a=1 outer/core.b=x/y=z", Options{Action: "set", Host: "outer", Config: map[string]string{"core.a": "1", "core.b": "x/y=z"}}},
		{"config unset core.a", Options{Action: "unset", Names: []string{"core.a"}, Config: map[string]string{"core.a": ""}}},
		{"operation list outer/", Options{Action: "list", Host: "outer"}},
		{"operation cancel outer/1234", Options{Action: "cancel", Host: "outer", Names: []string{"1234"}}},
		{"cluster list", Options{Action: "list"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			got, err := parse(strings.Fields(tt.args)...)
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Globals, got.Driver = nil, nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args  string
		usage bool // a usage error (exit 2), else a plain one (exit 1)
		says  string
	}{
		{"profile bogus", true, "a subcommand: list, show, create, set, unset, rename, delete, device"},
		{"profile show", true, "expected one profile"},
		{"profile show a b", true, "expected one profile"},
		{"profile list a b", true, "at most one name prefix"},
		{"profile create", true, "expected one profile"},
		{"profile create p novalue", true, `"novalue": expected KEY=VALUE`},
		{"profile create p a=", true, "empty value"},
		{"profile create p --device d", true, "--device: device \"d\": missing type"},
		{"profile set p", true, "nothing to set"},
		{"profile unset p", true, "at least one key"},
		{"profile unset p a=1", true, `"a=1": expected a key`},
		{"profile rename a", true, "its new name"},
		{"profile rename o/a other/b", true, "cannot move an object to another host"},
		{"profile rename a o/b", true, "cannot move"},
		{"profile delete", true, "at least one profile"},
		{"profile delete o/a b", true, `"b" is not on host "o"`},
		{"profile delete a o/b", true, `"o/b" is not on host ""`},
		{"profile device add p eth0", true, "a profile, a device name and its type"},
		{"profile device add p eth0 nic type=nic", true, "third argument"},
		{"profile device remove p", true, "at least one device"},
		{"storage create p", true, "a storage pool and its driver"},
		{"storage rename p q", true, "a subcommand: list, show, create, set, unset, delete, volume"},
		{"storage volume list", true, "one storage pool"},
		{"storage volume show p", true, "expected one volume"},
		{"storage volume delete p", true, "a storage pool and at least one volume"},
		{"snapshot create", true, "a container and at most one snapshot"},
		{"snapshot create c a b", true, "a container and at most one snapshot"},
		{"snapshot restore c", true, "a container and one of its snapshots"},
		{"config show outer", true, "expected the container path of a nested host and a slash"},
		{"config set a=1 o/b=2", true, "not on host"},
		{"config set novalue", true, "expected KEY=VALUE"},
		{"config get", true, "one key"},
		{"operation show", true, "one operation ID"},
		{"network list --bogus", true, "unknown flag: --bogus"},
		// Bad names are errors, not usage errors, as for containers.
		{"profile delete ok bad\x01name", false, `invalid profile name "bad\x01name"`},
		{"profile show bad_host/p", false, `container path "bad_host": invalid instance name`},
		{"profile show /p", false, `container path "": invalid instance name "": empty`},
		{"snapshot list bad_name", false, `invalid instance name "bad_name"`},
		{"storage volume list bad\tpool", false, `invalid storage pool name`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			args := strings.Split(tt.args, " ")
			_, err := parse(args...)
			if err == nil {
				t.Fatal("no error")
			}
			if cmdutil.IsUsage(err) != tt.usage {
				t.Errorf("usage error: %v, want %v (%v)", cmdutil.IsUsage(err), tt.usage, err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestNextSnapshotName(t *testing.T) {
	snaps := func(names ...string) []api.InstanceSnapshot {
		var out []api.InstanceSnapshot
		for _, n := range names {
			out = append(out, api.InstanceSnapshot{Name: n})
		}
		return out
	}
	for _, tt := range []struct {
		have []api.InstanceSnapshot
		want string
	}{
		{nil, "snap0"},
		{snaps("snap0"), "snap1"},
		{snaps("snap3", "snap1", "keep"), "snap4"},
		{snaps("snap", "snap-1", "snap01", "snapx", "before-snap9"), "snap0"},
	} {
		if got := nextSnapshotName(tt.have); got != tt.want {
			t.Errorf("nextSnapshotName(%v) = %q; want %q", tt.have, got, tt.want)
		}
	}
}

// fakeAPI answers GETs from canned documents and records other requests.
type fakeAPI struct {
	addr string
	docs map[string]any // by path
	sent []string       // "METHOD PATH"
}

func (a *fakeAPI) Addr() string { return a.addr }

func (a *fakeAPI) Query(_ context.Context, method, path string, body, out any) (string, error) {
	if method != http.MethodGet {
		_, err := a.Do(context.Background(), method, path, body, "")
		return "", err
	}
	doc, ok := a.docs[path]
	if !ok {
		return "", &errdefs.StatusError{Status: http.StatusNotFound, Message: "not found"}
	}
	data, _ := json.Marshal(doc)
	return "", json.Unmarshal(data, out)
}

func (a *fakeAPI) Do(_ context.Context, method, path string, body any, _ string) (*api.Operation, error) {
	a.sent = append(a.sent, method+" "+path)
	return &api.Operation{}, nil
}

// fakeDriver is a driver with an API and, when nested is set, the hosts
// nested in its containers (a driver.Nester, as driver/nested is).
type fakeDriver struct {
	driver.Driver
	api *fakeAPI
}

func (d *fakeDriver) API() hostapi.API { return d.api }

type fakePaths struct {
	fakeDriver
	nested map[string]*fakeDriver
}

func (p *fakePaths) Host(_ context.Context, path string) (driver.Driver, error) {
	if d, ok := p.nested[path]; ok {
		return d, nil
	}
	return nil, errdefs.Wrap(errdefs.ErrNotFound, nil, "container %q not found", path)
}

func run(t *testing.T, d driver.Driver, args ...string) (stdout string, err error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	f := cmdutil.NewFactory(ios)
	f.Driver = func(context.Context) (driver.Driver, error) { return d, nil }
	r := root(f, nil)
	r.SetArgs(args)
	err = r.Execute()
	return out.String(), err
}

func TestNestedHost(t *testing.T) {
	top := &fakeAPI{addr: "top", docs: map[string]any{
		"/1.0/profiles?recursion=1": []api.Profile{{Name: "default"}, {Name: "top-only"}},
	}}
	inner := &fakeAPI{addr: "outer", docs: map[string]any{
		"/1.0/profiles?recursion=1": []api.Profile{{Name: "web", UsedBy: []string{"/1.0/instances/a"}}, {Name: "default"}},
		"/1.0/profiles/web":         api.Profile{Name: "web"},
	}}
	d := &fakePaths{fakeDriver: fakeDriver{api: top}, nested: map[string]*fakeDriver{"outer": {api: inner}}}

	out, err := run(t, d, "profile", "list", "outer/")
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME            DESCRIPTION   USED BY\nouter/default                 0\nouter/web                     1\n"
	if out != want {
		t.Errorf("profile list outer/:\n%s\nwant:\n%s", out, want)
	}
	out, err = run(t, d, "--format", "json", "profile", "list", "outer/w")
	if err != nil || !strings.Contains(out, `"name": "outer/web"`) || strings.Contains(out, "default") {
		t.Errorf("profile list outer/w --format json: %v\n%s", err, out)
	}
	out, err = run(t, d, "profile", "list")
	if err != nil || !strings.Contains(out, "\ntop-only ") || strings.Contains(out, "web") {
		t.Errorf("profile list: %v\n%s", err, out)
	}

	if _, err := run(t, d, "profile", "set", "outer/web", "user.a=1"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, d, "profile", "delete", "outer/web", "outer/gone"); err != nil {
		t.Fatal(err)
	}
	want2 := []string{"PUT /1.0/profiles/web", "DELETE /1.0/profiles/web", "DELETE /1.0/profiles/gone"}
	if !reflect.DeepEqual(inner.sent, want2) || len(top.sent) != 0 {
		t.Errorf("sent to outer %q, to the top %q; want %q to outer only", inner.sent, top.sent, want2)
	}

	if _, err := run(t, d, "profile", "show", "outer/nope"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "profile nope not found on outer") {
		t.Errorf("show missing: %v", err)
	}
	if _, err := run(t, d, "profile", "list", "other/"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("list on a missing host: %v", err)
	}
	// A driver that reaches no nested host says so.
	if _, err := run(t, &fakeDriver{api: top}, "profile", "list", "outer/"); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("list outer/ without nesting: %v", err)
	}
}

func TestDeviceAdd(t *testing.T) {
	a := &fakeAPI{addr: "fake", docs: map[string]any{
		"/1.0/profiles/web": api.Profile{Name: "web", ProfilePut: api.ProfilePut{
			Devices: map[string]map[string]string{"eth1": {"type": "nic", "network": "br0"}}}},
	}}
	d := &fakeDriver{api: a}
	// The same device again is no change; other settings are refused.
	if _, err := run(t, d, "profile", "device", "add", "web", "eth1", "nic", "network=br0"); err != nil {
		t.Errorf("adding the same device: %v", err)
	}
	_, err := run(t, d, "profile", "device", "add", "web", "eth1", "nic", "network=br1")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "profile web has a device eth1 already") {
		t.Errorf("adding another eth1: %v", err)
	}
	if len(a.sent) != 1 {
		t.Errorf("sent %q; want one PUT", a.sent)
	}
}
