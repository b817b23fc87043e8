package snapshot

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects"
	"github.com/lxkit/lxkit/cmd/lxkit/command/objects/objectstest"
	"github.com/spf13/cobra"
)

func TestParse(t *testing.T) {
	outer := objects.Scope{Host: "outer"}
	for args, want := range map[string]CreateOptions{
		"create outer/c": {Scope: outer, Container: "c"},
		"create c s1":    {Container: "c", Name: "s1"},
	} {
		got, err := objectstest.Parse(NewCmdCreate, strings.Fields(args)...)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", args, err, got, want)
		}
	}
	got, err := objectstest.Parse(NewCmdRestore, "restore", "outer/c", "s1")
	if want := (RestoreOptions{Scope: outer, Container: "c", Snapshot: "s1"}); err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("restore outer/c s1: %v\n got %+v\nwant %+v", err, got, want)
	}
	list := func(f *cmdutil.Factory, runF func(context.Context, *objects.ListOptions) error) *cobra.Command {
		return objects.NewCmdList(f, snapshots, runF)
	}
	gotList, err := objectstest.Parse(list, "list", "outer/c")
	if want := (objects.ListOptions{Scope: outer, Parent: "c"}); err != nil || !reflect.DeepEqual(*gotList, want) {
		t.Errorf("list outer/c: %v\n got %+v\nwant %+v", err, gotList, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args  string
		usage bool
		says  string
	}{
		{"snapshot bogus", true, "a subcommand: list, show, create, restore, rename, delete"},
		{"snapshot create", true, "a container and at most one snapshot"},
		{"snapshot create c a b", true, "a container and at most one snapshot"},
		{"snapshot restore c", true, "a container and one of its snapshots"},
		{"snapshot delete c", true, "a container and at least one snapshot"},
		{"snapshot list bad_name", false, `invalid instance name "bad_name"`},
		{"snapshot create c bad/", false, `invalid snapshot name "bad/": it has a slash`},
	}
	for _, tt := range tests {
		f, _ := objectstest.Factory(nil)
		err := objectstest.Execute(f, NewCmdSnapshot(f), strings.Fields(tt.args)...)
		if err == nil || cmdutil.IsUsage(err) != tt.usage || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v; want a usage error %v that says %q", tt.args, err, tt.usage, tt.says)
		}
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
