package job

import (
	"bytes"
	"context"
	"reflect"
	"sync"
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
	if !reflect.DeepEqual(o.Files, []string{"job.yaml"}) || o.Artifacts != "out" || o.Keep != "on-failure" || o.Name != "j1" || !reflect.DeepEqual(o.Props, []string{"a=1"}) {
		t.Errorf("run: %+v", o)
	}
	if o.Now == nil || o.LookupEnv == nil || o.Driver == nil {
		t.Errorf("run: options without the factory's parts: %+v", o)
	}
	o = parse(NewCmdRun, "--parallel", "3", "--target", "@ci", "a.yaml", "b.yaml")
	if !reflect.DeepEqual(o.Files, []string{"a.yaml", "b.yaml"}) || o.Parallel != 3 || o.Target != "@ci" {
		t.Errorf("run of two: %+v", o)
	}
	for _, args := range [][]string{{"--name", "x", "a.yaml", "b.yaml"}, {"--parallel", "0", "a.yaml"}, {}} {
		ios, _, _, _ := iostreams.Test()
		cmd := NewCmdRun(cmdutil.NewFactory(ios), func(context.Context, *Options) error { return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); !cmdutil.IsUsage(err) {
			t.Errorf("run %v: %v, want a usage error", args, err)
		}
	}
	if o := parse(NewCmdReap, "--job", "a", "--job", "b"); !reflect.DeepEqual(o.Jobs, []string{"a", "b"}) {
		t.Errorf("reap: jobs %q", o.Jobs)
	}
	if o := parse(NewCmdList); o == nil {
		t.Error("list: no options")
	}
}

// Lines of several writers come out whole, each after its prefix.
func TestLinePrefixer(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	a := &linePrefixer{w: &out, prefix: "[a] ", mu: &mu}
	b := &linePrefixer{w: &out, prefix: "[b] ", mu: &mu}
	_, _ = a.Write([]byte("one\ntw"))
	_, _ = b.Write([]byte("x\n"))
	_, _ = a.Write([]byte("o\nend"))
	a.flush()
	if want := "[a] one\n[b] x\n[a] two\n[a] end\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
