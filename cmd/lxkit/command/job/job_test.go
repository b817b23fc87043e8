package job

import (
	"context"
	"reflect"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
)

func TestArgs(t *testing.T) {
	parse := func(mk func(*cmdutil.Factory, func(context.Context, *Options) error) *cobra.Command, args ...string) *Options {
		t.Helper()
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := mk(cmdutil.NewFactory(ios), func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return got
	}
	o := parse(NewCmdRun, "--artifacts", "out", "--keep", "on-failure", "--name", "j1", "-p", "a=1", "job.yaml")
	if o.File != "job.yaml" || o.Artifacts != "out" || o.Keep != "on-failure" || o.Name != "j1" || !reflect.DeepEqual(o.Props, []string{"a=1"}) {
		t.Errorf("run: %+v", o)
	}
	if o.Now == nil || o.LookupEnv == nil || o.Driver == nil {
		t.Errorf("run: options without the factory's parts: %+v", o)
	}
	if o := parse(NewCmdReap, "--job", "a", "--job", "b"); !reflect.DeepEqual(o.Jobs, []string{"a", "b"}) {
		t.Errorf("reap: jobs %q", o.Jobs)
	}
	if o := parse(NewCmdList); o == nil {
		t.Error("list: no options")
	}
}
