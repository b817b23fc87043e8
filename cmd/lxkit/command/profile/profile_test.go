package profile

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/spf13/cobra"
)

func newCmdCreate(f *cmdutil.Factory, runF func(context.Context, *objects.CreateOptions) error) *cobra.Command {
	return objects.NewCmdCreate(f, profiles, runF)
}

func TestParse(t *testing.T) {
	create := map[string]objects.CreateOptions{
		"create web user.a=1 --description D --device d,type=disk,path=/mnt,source=/srv": {Name: "web",
			Config: map[string]string{"user.a": "1"}, Description: "D",
			Devices: map[string]map[string]string{"d": {"type": "disk", "path": "/mnt", "source": "/srv"}}},
		"create outer/web": {Scope: objects.Scope{Host: "outer"}, Name: "web", Config: map[string]string{}, Devices: map[string]map[string]string{}},
	}
	for args, want := range create {
		got, err := objectstest.Parse(newCmdCreate, strings.Fields(args)...)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
	devices := map[string]DeviceOptions{
		"add o/web eth1 nic network=br0 name=eth1": {Scope: objects.Scope{Host: "o"}, Profile: "web",
			Devices: map[string]map[string]string{"eth1": {"type": "nic", "network": "br0", "name": "eth1"}}},
		"remove web a b": {Profile: "web", Devices: map[string]map[string]string{"a": nil, "b": nil}},
	}
	for args, want := range devices {
		newCmd := NewCmdDeviceAdd
		if strings.HasPrefix(args, "remove") {
			newCmd = NewCmdDeviceRemove
		}
		got, err := objectstest.Parse(newCmd, strings.Fields(args)...)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for args, says := range map[string]string{
		"profile bogus":                          "a subcommand: list, show, create, set, unset, edit, rename, delete, diff, device",
		"profile create p --device d":            "--device: device \"d\": missing type",
		"profile device add p eth0":              "a profile, a device name and its type",
		"profile device add p eth0 nic type=nic": "third argument",
		"profile device remove p":                "at least one device",
		"profile diff p":                         "two profiles",
		"profile diff a b c":                     "two profiles",
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdProfile(f), strings.Fields(args)...)
		if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want a usage error that says %q", args, err, says)
		}
	}
}

func TestDeviceAdd(t *testing.T) {
	a := &objectstest.API{Address: "fake", Docs: map[string]any{
		"/1.0/profiles/web": api.Profile{Name: "web", ProfilePut: api.ProfilePut{
			Devices: map[string]map[string]string{"eth1": {"type": "nic", "network": "br0"}}}},
	}}
	f, _ := objectstest.Factory(&objectstest.Driver{Host: a})
	add := func(args ...string) error {
		return objectstest.Execute(f, NewCmdProfile(f), append([]string{"profile", "device", "add", "web", "eth1", "nic"}, args...)...)
	}
	// The same device again is no change; other settings are refused.
	if err := add("network=br0"); err != nil {
		t.Errorf("adding the same device: %v", err)
	}
	err := add("network=br1")
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "profile web has a device eth1 already") {
		t.Errorf("adding another eth1: %v", err)
	}
	if len(a.Sent) != 1 {
		t.Errorf("sent %q; want one PUT", a.Sent)
	}
}

// profile diff: two profiles, here one of them nested, as a unified diff
// of their YAML; the exit status as diff(1)'s.
func TestDiff(t *testing.T) {
	web := func(mem string) api.Profile {
		return api.Profile{Name: "web", ProfilePut: api.ProfilePut{Config: map[string]string{"limits.memory": mem},
			Devices: map[string]map[string]string{"eth0": {"type": "nic", "network": "br0"}}}}
	}
	top := &objectstest.API{Address: "fake", Docs: map[string]any{"/1.0/profiles/web": web("256MiB"), "/1.0/profiles/same": web("512MiB")}}
	inner := &objectstest.API{Address: "inner", Docs: map[string]any{"/1.0/profiles/web": web("512MiB")}}
	d := &objectstest.Nesting{Driver: objectstest.Driver{Host: top}, Nested: map[string]*objectstest.Driver{"outer": {Host: inner}}}
	run := func(args ...string) (string, error) {
		f, out := objectstest.Factory(d)
		err := objectstest.Execute(f, NewCmdProfile(f), append([]string{"profile", "diff"}, args...)...)
		return out(), err
	}
	out, err := run("web", "outer/web")
	var exit *cmdutil.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 || exit.Err != nil {
		t.Errorf("different: %v, want exit status 1 and no message", err)
	}
	want := `--- profile web
+++ profile outer/web
@@ -1,6 +1,6 @@
 description: ""
 config:
-  limits.memory: 256MiB
+  limits.memory: 512MiB
 devices:
   eth0:
     network: br0
`
	if out != want {
		t.Errorf("diff:\n%s\nwant:\n%s", out, want)
	}
	if out, err := run("same", "outer/web"); err != nil || out != "" {
		t.Errorf("the same: %q, %v", out, err)
	}
	_, err = run("web", "outer/missing")
	if !errors.As(err, &exit) || exit.Code != 2 || !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing: %v, want exit status 2 and not found", err)
	}
}
