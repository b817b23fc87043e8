package storage

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/spf13/cobra"
)

func TestParse(t *testing.T) {
	createPool := func(f *cmdutil.Factory, runF func(context.Context, *objects.CreateOptions) error) *cobra.Command {
		return objects.NewCmdCreate(f, pools, runF)
	}
	got, err := objectstest.Parse(createPool, "create", "p", "dir", "source=/srv")
	want := objects.CreateOptions{Name: "p", Type: "dir", Config: map[string]string{"source": "/srv"}}
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("create p dir source=/srv: %v\n got %+v\nwant %+v", err, got, want)
	}
	listVolumes := func(f *cmdutil.Factory, runF func(context.Context, *objects.ListOptions) error) *cobra.Command {
		return objects.NewCmdList(f, volumes, runF)
	}
	gotList, err := objectstest.Parse(listVolumes, "list", "outer/p")
	wantList := objects.ListOptions{Scope: objects.Scope{Host: "outer"}, Parent: "p"}
	if err != nil || !reflect.DeepEqual(*gotList, wantList) {
		t.Errorf("list outer/p: %v\n got %+v\nwant %+v", err, gotList, wantList)
	}
}

func TestParseErrors(t *testing.T) {
	for args, says := range map[string]string{
		"storage create p":            "a storage pool and its driver",
		"storage rename p q":          "a subcommand: list, show, create, set, unset, edit, delete, volume",
		"storage volume list":         "one storage pool",
		"storage volume delete p":     "a storage pool and at least one volume",
		"storage volume bogus":        "a subcommand: list, show, create, set, unset, edit, rename, delete",
		"storage volume show p v w":   "one volume",
		"storage volume create p v x": `"x": expected KEY=VALUE`,
	} {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdStorage(f), strings.Fields(args)...)
		if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want a usage error that says %q", args, err, says)
		}
	}
}
