package objects_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// things are objects of the host itself (the daemon's profiles).
var things = &objects.Kind[api.Profile, api.ProfilesPost]{
	Noun: "thing", Arg: "THING",
	Open: func(h *host.Host, _ string) objects.Collection[api.Profile, api.ProfilesPost] {
		return h.Profiles()
	},
	Name:   func(p *api.Profile) *string { return &p.Name },
	Header: "DESCRIPTION\tUSED BY",
	Row:    func(p *api.Profile) string { return p.Description + "\t" + strconv.Itoa(len(p.UsedBy)) },
	Post: func(o *objects.CreateOptions) api.ProfilesPost {
		return api.ProfilesPost{Name: o.Name, ProfilePut: api.ProfilePut{Description: o.Description, Config: o.Config}}
	},
	Update: func(ctx context.Context, h *host.Host, _, name string, change func(*map[string]string, *string)) error {
		return h.Profiles().Update(ctx, name, func(p *api.ProfilePut) error {
			change(&p.Config, &p.Description)
			return nil
		})
	},
}

// parts belong to a box (the daemon's volumes of a storage pool).
var parts = &objects.Kind[api.StorageVolume, api.StorageVolumesPost]{
	Noun: "part", Arg: "PART", Parent: "BOX", ParentNoun: "box",
	ValidParent: func(box string) error { return host.ValidateName("storage pool", box) },
	Open: func(h *host.Host, box string) objects.Collection[api.StorageVolume, api.StorageVolumesPost] {
		return h.Volumes(box)
	},
	Name: func(v *api.StorageVolume) *string { return &v.Name },
	Row:  func(*api.StorageVolume) string { return "" },
	GetParent: func(ctx context.Context, s *objects.Scope, box string) error {
		h, err := s.HostAPI(ctx)
		if err == nil {
			_, err = h.StoragePools().Get(ctx, box)
		}
		return err
	},
}

// verb returns the constructor of one verb of k, as the family packages
// call it, for objectstest.Parse.
func verb[T, Post, O any](k *objects.Kind[T, Post], newCmd func(*cmdutil.Factory, *objects.Kind[T, Post], func(context.Context, *O) error) *cobra.Command) func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command {
	return func(f *cmdutil.Factory, runF func(context.Context, *O) error) *cobra.Command {
		return newCmd(f, k, runF)
	}
}

// check parses each of args with newCmd and compares the options.
func check[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, tests map[string]O) {
	t.Helper()
	for args, want := range tests {
		got, err := objectstest.Parse(newCmd, strings.Fields(args)...)
		if err != nil {
			t.Errorf("%s: %v", args, err)
			continue
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", args, *got, want)
		}
	}
}

func on(host string) objects.Scope { return objects.Scope{Host: host} }

func ptr(s string) *string { return &s }

func TestList(t *testing.T) {
	check(t, verb(things, objects.NewCmdList), map[string]objects.ListOptions{
		"list":              {},
		"list we":           {Prefix: "we"},
		"list outer/":       {Scope: on("outer")},
		"list outer/mid/we": {Scope: on("outer/mid"), Prefix: "we"},
	})
	check(t, verb(parts, objects.NewCmdList), map[string]objects.ListOptions{
		"list b":       {Parent: "b"},
		"list outer/b": {Scope: on("outer"), Parent: "b"},
	})
}

func TestShow(t *testing.T) {
	check(t, verb(things, objects.NewCmdShow), map[string]objects.ShowOptions{
		"show web":       {Name: "web"},
		"show outer/web": {Scope: on("outer"), Name: "web"},
	})
	check(t, verb(parts, objects.NewCmdShow), map[string]objects.ShowOptions{
		"show o/b p": {Scope: on("o"), Parent: "b", Name: "p"},
	})
}

func TestCreate(t *testing.T) {
	check(t, verb(things, objects.NewCmdCreate), map[string]objects.CreateOptions{
		"create web user.a=1 user.b=x=y --description D": {Name: "web", Config: map[string]string{"user.a": "1", "user.b": "x=y"}, Description: "D"},
		"create outer/web": {Scope: on("outer"), Name: "web", Config: map[string]string{}},
	})
	check(t, verb(parts, objects.NewCmdCreate), map[string]objects.CreateOptions{
		"create outer/b p user.a=1": {Scope: on("outer"), Parent: "b", Name: "p", Config: map[string]string{"user.a": "1"}},
	})
}

func TestSetAndUnset(t *testing.T) {
	check(t, verb(things, objects.NewCmdSet), map[string]objects.SetOptions{
		"set web user.a=1 user.b=":  {Name: "web", Config: map[string]string{"user.a": "1", "user.b": ""}},
		"set web --description=":    {Name: "web", Config: map[string]string{}, Description: ptr("")},
		"set o/web --description=x": {Scope: on("o"), Name: "web", Config: map[string]string{}, Description: ptr("x")},
	})
	check(t, verb(things, objects.NewCmdUnset), map[string]objects.SetOptions{
		"unset outer/web user.a user.b": {Scope: on("outer"), Name: "web", Config: map[string]string{"user.a": "", "user.b": ""}},
	})
}

func TestRename(t *testing.T) {
	check(t, verb(things, objects.NewCmdRename), map[string]objects.RenameOptions{
		"rename outer/a b":       {Scope: on("outer"), Name: "a", NewName: "b"},
		"rename outer/a outer/b": {Scope: on("outer"), Name: "a", NewName: "b"},
	})
	check(t, verb(parts, objects.NewCmdRename), map[string]objects.RenameOptions{
		"rename b p q": {Parent: "b", Name: "p", NewName: "q"},
	})
}

func TestDelete(t *testing.T) {
	check(t, verb(things, objects.NewCmdDelete), map[string]objects.DeleteOptions{
		"delete a b":     {Names: []string{"a", "b"}},
		"delete o/a o/b": {Scope: on("o"), Names: []string{"a", "b"}},
	})
	check(t, verb(parts, objects.NewCmdDelete), map[string]objects.DeleteOptions{
		"delete b p q": {Parent: "b", Names: []string{"p", "q"}},
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args  string
		usage bool // a usage error (exit 2), else a plain one (exit 1)
		says  string
	}{
		{"things bogus", true, "a subcommand: list, show, create, set, unset, rename, delete"},
		{"things show", true, "expected one thing"},
		{"things show a b", true, "expected one thing"},
		{"things list a b", true, "at most one name prefix"},
		{"things create", true, "expected one thing"},
		{"things create p novalue", true, `"novalue": expected KEY=VALUE`},
		{"things create p a=", true, "empty value"},
		{"things set p", true, "nothing to set"},
		{"things unset p", true, "at least one key"},
		{"things unset p a=1", true, `"a=1": expected a key`},
		{"things rename a", true, "its new name"},
		{"things rename o/a other/b", true, "cannot move an object to another host"},
		{"things rename a o/b", true, "cannot move"},
		{"things delete", true, "at least one thing"},
		{"things delete o/a b", true, `"b" is not on host "o"`},
		{"things delete a o/b", true, `"o/b" is not on host ""`},
		{"things list --bogus", true, "unknown flag: --bogus"},
		{"parts list", true, "one box"},
		{"parts show b", true, "expected one part"},
		{"parts delete b", true, "a box and at least one part"},
		// Bad names are errors, not usage errors, as for containers.
		{"things delete ok bad\x01name", false, `invalid thing name "bad\x01name"`},
		{"things create ok/x/", false, "invalid thing name: empty"},
		{"things rename a b\x01", false, `invalid thing name "b\x01"`},
		{"things show bad_host/p", false, `container path "bad_host": invalid instance name`},
		{"things show /p", false, `container path "": invalid instance name "": empty`},
		{"parts list bad\tbox", false, `invalid storage pool name`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			f, _ := objectstest.Factory(nil)
			noun, args, _ := strings.Cut(tt.args, " ")
			k := objects.Group("things", "", "", things.Commands(f)...)
			if noun == "parts" {
				k = objects.Group("parts", "", "", parts.Commands(f)...)
			}
			err := objectstest.Execute(f, k, append([]string{noun}, strings.Split(args, " ")...)...)
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

// run runs `things ARGS...` on driver d and returns what it printed.
func run(d *objectstest.Nesting, args ...string) (string, error) {
	f, out := objectstest.Factory(d)
	err := objectstest.Execute(f, objects.Group("things", "", "", things.Commands(f)...), append([]string{"things"}, args...)...)
	return out(), err
}

func TestNestedHost(t *testing.T) {
	top := &objectstest.API{Address: "top", Docs: map[string]any{
		"/1.0/profiles?recursion=1": []api.Profile{{Name: "default"}, {Name: "top-only"}},
	}}
	inner := &objectstest.API{Address: "outer", Docs: map[string]any{
		"/1.0/profiles?recursion=1": []api.Profile{{Name: "web", UsedBy: []string{"/1.0/instances/a"}}, {Name: "default"}},
		"/1.0/profiles/web":         api.Profile{Name: "web"},
	}}
	d := &objectstest.Nesting{Driver: objectstest.Driver{Host: top}, Nested: map[string]*objectstest.Driver{"outer": {Host: inner}}}

	out, err := run(d, "list", "outer/")
	if err != nil {
		t.Fatal(err)
	}
	want := "NAME            DESCRIPTION   USED BY\nouter/default                 0\nouter/web                     1\n"
	if out != want {
		t.Errorf("list outer/:\n%s\nwant:\n%s", out, want)
	}
	out, err = run(d, "--format", "json", "list", "outer/w")
	if err != nil || !strings.Contains(out, `"name": "outer/web"`) || strings.Contains(out, "default") {
		t.Errorf("list outer/w --format json: %v\n%s", err, out)
	}
	out, err = run(d, "list")
	if err != nil || !strings.Contains(out, "\ntop-only ") || strings.Contains(out, "web") {
		t.Errorf("list: %v\n%s", err, out)
	}

	if _, err := run(d, "set", "outer/web", "user.a=1"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(d, "delete", "outer/web", "outer/gone"); err != nil {
		t.Fatal(err)
	}
	want2 := []string{"PUT /1.0/profiles/web", "DELETE /1.0/profiles/web", "DELETE /1.0/profiles/gone"}
	if !reflect.DeepEqual(inner.Sent, want2) || len(top.Sent) != 0 {
		t.Errorf("sent to outer %q, to the top %q; want %q to outer only", inner.Sent, top.Sent, want2)
	}

	if _, err := run(d, "show", "outer/nope"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "profile nope not found on outer") {
		t.Errorf("show missing: %v", err)
	}
	if _, err := run(d, "list", "other/"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("list on a missing host: %v", err)
	}
	// A driver that reaches no nested host says so.
	f, _ := objectstest.Factory(&objectstest.Driver{Host: top})
	if err := objectstest.Execute(f, objects.NewCmdList(f, things, nil), "list", "outer/"); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("list outer/ without nesting: %v", err)
	}
}

// TestMissingParent: a missing box is named, not the part looked for in it.
func TestMissingParent(t *testing.T) {
	a := &objectstest.API{Address: "fake", Docs: map[string]any{
		"/1.0/storage-pools/here": api.StoragePool{Name: "here"},
	}}
	f, _ := objectstest.Factory(&objectstest.Driver{Host: a})
	err := objectstest.Execute(f, objects.NewCmdShow(f, parts, nil), "show", "gone", "p")
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "storage pool gone not found") {
		t.Errorf("a part of a missing box: %v", err)
	}
	err = objectstest.Execute(f, objects.NewCmdShow(f, parts, nil), "show", "here", "p")
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "volume p not found on fake") {
		t.Errorf("a missing part of a box: %v", err)
	}
}

func TestEdit(t *testing.T) {
	edits := &objects.Kind[api.Profile, api.ProfilesPost]{Noun: "thing", Arg: "THING", Editable: editable.Editable}
	check(t, verb(edits, objects.NewCmdEdit), map[string]objects.EditOptions{
		"edit web":           {Name: "web"},
		"edit outer/mid/web": {Scope: on("outer/mid"), Name: "web"},
	})
	check(t, verb(parts, objects.NewCmdEdit), map[string]objects.EditOptions{
		"edit outer/b p": {Scope: on("outer"), Parent: "b", Name: "p"},
	})
	for args, says := range map[string]string{
		"edit":          "expected one thing",
		"edit a b":      "expected one thing",
		"edit outer/":   "invalid thing name: empty",
		"edit bad\x01x": `invalid thing name "bad\x01x"`,
		"edit /x":       `container path "": invalid instance name`,
	} {
		if _, err := objectstest.Parse(verb(edits, objects.NewCmdEdit), strings.Split(args, " ")...); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v; want an error that says %q", args, err, says)
		}
	}
}
