package declare

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
)

// run parses args with the command made by mk and returns the options
// its run function got.
func run(t *testing.T, mk func(*cmdutil.Factory, func(context.Context, *Options) error) *cobra.Command, args ...string) (*Options, error) {
	t.Helper()
	var got *Options
	ios, _, _, _ := iostreams.Test()
	cmd := mk(cmdutil.NewFactory(ios), func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestArgs(t *testing.T) {
	o, err := run(t, NewCmdUp, "-f", "web.yaml", "-p", "a=1", "--property", "b=x=y", "w1", "w2")
	if err != nil {
		t.Fatal(err)
	}
	if o.File != "web.yaml" || o.Properties["a"] != "1" || o.Properties["b"] != "x=y" || strings.Join(o.Names, ",") != "w1,w2" {
		t.Errorf("up: %+v", o)
	}
	o, err = run(t, NewCmdPlan, "fleet.yaml", "-p", "img=x")
	if err != nil || o.File != "fleet.yaml" || o.Properties["img"] != "x" {
		t.Errorf("plan: %+v, %v", o, err)
	}
	// Every flag lands in the options a test hook sees.
	for _, tc := range []struct {
		mk   func(*cmdutil.Factory, func(context.Context, *Options) error) *cobra.Command
		args []string
		want Options
	}{
		{NewCmdRebuild, []string{"-f", "w.yaml", "--force", "w1"}, Options{File: "w.yaml", Names: []string{"w1"}, Force: true}},
		{NewCmdDown, []string{"-f", "w.yaml", "--volumes", "w1", "w2"}, Options{File: "w.yaml", Names: []string{"w1", "w2"}, Volumes: true}},
		{NewCmdCheckpoint, []string{"-f", "w.yaml", "w1", "before"}, Options{File: "w.yaml", Names: []string{"w1"}, Snapshot: "before"}},
		{NewCmdRollback, []string{"-f", "w.yaml", "--force", "o/w1", "before"}, Options{File: "w.yaml", Names: []string{"o/w1"}, Snapshot: "before", Force: true}},
		{NewCmdClone, []string{"-f", "w.yaml", "--snapshot", "gold", "a", "b"}, Options{File: "w.yaml", Names: []string{"a", "b"}, Snapshot: "gold"}},
		{NewCmdRender, []string{"-f", "w.yaml", "a"}, Options{File: "w.yaml", Names: []string{"a"}}},
		{NewCmdConfigure, []string{"-f", "w.yaml", "--force", "a", "o/b"}, Options{File: "w.yaml", Names: []string{"a", "o/b"}, Force: true}},
		{NewCmdDiff, []string{"-f", "w.yaml", "a"}, Options{File: "w.yaml", Names: []string{"a"}}},
		{NewCmdPlan, []string{"--prune", "f.yaml"}, Options{File: "f.yaml", Prune: true}},
		{NewCmdApply, []string{"--parallel", "4", "f.yaml"}, Options{File: "f.yaml", Parallel: 4}},
	} {
		o, err := run(t, tc.mk, tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		got := Options{File: o.File, Names: o.Names, Snapshot: o.Snapshot, Force: o.Force, Volumes: o.Volumes, Prune: o.Prune, Parallel: o.Parallel}
		if got.Parallel == 1 && tc.want.Parallel == 0 {
			got.Parallel = 0 // apply's default
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: options %+v, want %+v", tc.args, got, tc.want)
		}
	}
	for _, tc := range []struct {
		mk   func(*cmdutil.Factory, func(context.Context, *Options) error) *cobra.Command
		args []string
		want string
	}{
		{NewCmdUp, []string{"w1"}, "-f FILE is required"},
		{NewCmdUp, []string{"-f", "x.yaml"}, "at least one instance name"},
		{NewCmdUp, []string{"-f", "x.yaml", "-p", "novalue", "w1"}, "-p:"},
		{NewCmdCheckpoint, []string{"-f", "x.yaml", "w1"}, "an instance name and a snapshot name"},
		{NewCmdClone, []string{"-f", "x.yaml", "a", "b", "c"}, "the source and the new instance's names"},
		{NewCmdApply, []string{}, "a fleet file"},
		{NewCmdConfigure, []string{"w1"}, "-f FILE is required"},
		{NewCmdDiff, []string{"-f", "x.yaml"}, "at least one instance name"},
	} {
		_, err := run(t, tc.mk, tc.args...)
		if err == nil || !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}
