package cluster

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

func TestGroupParse(t *testing.T) {
	on := func(h string) objects.Scope { return objects.Scope{Host: h} }
	check(t, NewCmdAssign, map[string]AssignOptions{
		"assign m2 gpu":            {Member: "m2", Groups: []string{"gpu"}},
		"assign o/m2 default,gpu":  {Scope: on("o"), Member: "m2", Groups: []string{"default", "gpu"}},
		"assign m2 gpu,ssd,remote": {Member: "m2", Groups: []string{"gpu", "ssd", "remote"}},
	})
	verb := func(newCmd func(*cmdutil.Factory, *objects.Kind[api.ClusterGroup, api.ClusterGroupsPost], func(context.Context, *objects.CreateOptions) error) *cobra.Command) func(*cmdutil.Factory, func(context.Context, *objects.CreateOptions) error) *cobra.Command {
		return func(f *cmdutil.Factory, runF func(context.Context, *objects.CreateOptions) error) *cobra.Command {
			return newCmd(f, groups, runF)
		}
	}
	check(t, verb(objects.NewCmdCreate), map[string]objects.CreateOptions{
		"create gpu --description GPUs": {Name: "gpu", Description: "GPUs", Config: map[string]string{}},
		"create o/gpu":                  {Scope: on("o"), Name: "gpu", Config: map[string]string{}},
	})
	check(t, func(f *cmdutil.Factory, runF func(context.Context, *objects.RenameOptions) error) *cobra.Command {
		return objects.NewCmdRename(f, groups, runF)
	}, map[string]objects.RenameOptions{"rename o/gpu accel": {Scope: on("o"), Name: "gpu", NewName: "accel"}})
	check(t, func(f *cmdutil.Factory, runF func(context.Context, *objects.DeleteOptions) error) *cobra.Command {
		return objects.NewCmdDelete(f, groups, runF)
	}, map[string]objects.DeleteOptions{"delete o/a o/b": {Scope: on("o"), Names: []string{"a", "b"}}})

	// The group commands are those of the kind, and assign.
	f, _ := objectstest.Factory(nil)
	var names []string
	for _, c := range NewCmdGroup(f).Commands() {
		names = append(names, c.Name())
	}
	if want := []string{"assign", "create", "delete", "list", "rename", "show"}; !reflect.DeepEqual(names, want) {
		t.Errorf("cluster group has %q, want %q", names, want)
	}
}

func TestGroupParseErrors(t *testing.T) {
	for args, says := range map[string]string{
		"cluster group bogus":             "a subcommand: list, show, create, rename, delete, assign",
		"cluster group assign m1":         "a cluster member and its groups",
		"cluster group assign m1 a b":     "a cluster member and its groups",
		"cluster group assign m1 a,,b":    "no empty group",
		"cluster group assign m1 a,":      "no empty group",
		"cluster group assign m1 gpu,gpu": "group gpu given twice",
		"cluster group create":            "one cluster group",
		"cluster group create g user.k=v": "takes no KEY=VALUE configuration",
		"cluster group show":              "one cluster group",
		"cluster group rename g":          "one cluster group and its new name",
		"cluster group delete":            "at least one cluster group",
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdCluster(f), strings.Fields(args)...)
		if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want a usage error that says %q", args, err, says)
		}
	}
	for args, says := range map[string]string{
		"cluster group assign m1 a/b":     `invalid cluster group name "a/b": it has a slash`,
		"cluster group assign o/ gpu":     "invalid cluster member name: empty",
		"cluster group create -- -gpu":    `invalid cluster group name "-gpu"`,
		"cluster group rename gpu a:x":    "only ASCII letters",
		"cluster group delete ok o/bad/x": "not on host",
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdCluster(f), strings.Fields(args)...)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want an error that says %q", args, err, says)
		}
	}
	// The create usage line offers no KEY=VALUE.
	f, _ := objectstest.Factory(nil)
	for _, c := range NewCmdGroup(f).Commands() {
		if c.Name() == "create" && c.Use != "create [HOST/]GROUP [--description D]" {
			t.Errorf("cluster group create: usage %q", c.Use)
		}
	}
}

func TestGroupList(t *testing.T) {
	a := &objectstest.API{Address: "fake", Docs: map[string]any{
		"/1.0/cluster/groups?recursion=1": []api.ClusterGroup{
			{Name: "gpu", ClusterGroupPut: api.ClusterGroupPut{Description: "GPUs", Members: []string{"m2", "m3"}}},
			{Name: "default", ClusterGroupPut: api.ClusterGroupPut{Description: "Default", Members: []string{"m1", "m2", "m3"}}},
		},
	}}
	f, out := objectstest.Factory(&objectstest.Driver{Host: a})
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "group", "list"); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, l := range strings.Split(strings.TrimSpace(out()), "\n") {
		got = append(got, strings.Fields(l))
	}
	want := [][]string{{"NAME", "DESCRIPTION", "MEMBERS"}, {"default", "Default", "m1,m2,m3"}, {"gpu", "GPUs", "m2,m3"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cluster group list:\n%s", out())
	}
}

func TestGroupAssign(t *testing.T) {
	r, f, _ := newRecorder(map[string]any{"/1.0/cluster/members/m2": members[1]})
	if err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "group", "assign", "m2", "gpu,default"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Sent, []string{"PUT /1.0/cluster/members/m2"}) || len(r.Bodies) != 1 {
		t.Fatalf("group assign sent %q", r.Sent)
	}
	put, ok := r.Bodies[0].(*api.ClusterMemberPut)
	if !ok || !reflect.DeepEqual(put.Groups, []string{"gpu", "default"}) || put.FailureDomain != "rack2" {
		t.Errorf("group assign sent %+v; want groups gpu,default and the rest as it was", r.Bodies[0])
	}

	r, f, _ = newRecorder(map[string]any{})
	err := objectstest.Execute(f, NewCmdCluster(f), "cluster", "group", "assign", "m9", "gpu")
	if !errors.Is(err, errdefs.ErrNotFound) || len(r.Sent) != 0 {
		t.Errorf("group assign of a missing member: %v, sent %q", err, r.Sent)
	}
}
