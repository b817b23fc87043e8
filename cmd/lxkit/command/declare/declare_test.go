package declare

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
)

// run parses args with the command made by mk and returns the options
// its run function got.
func run(t *testing.T, mk func(*Options, func(context.Context, *Options) error) *cobra.Command, args ...string) (*Options, error) {
	t.Helper()
	var got *Options
	opts := &Options{IO: &iostreams.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &cmdutil.Globals{Format: cmdutil.FormatTable}}
	cmd := mk(opts, func(_ context.Context, o *Options) error { got = o; return nil })
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
	for _, tc := range []struct {
		mk   func(*Options, func(context.Context, *Options) error) *cobra.Command
		args []string
		want string
	}{
		{NewCmdUp, []string{"w1"}, "-f FILE is required"},
		{NewCmdUp, []string{"-f", "x.yaml"}, "at least one instance name"},
		{NewCmdUp, []string{"-f", "x.yaml", "-p", "novalue", "w1"}, "-p:"},
		{NewCmdCheckpoint, []string{"-f", "x.yaml", "w1"}, "an instance name and a snapshot name"},
		{NewCmdClone, []string{"-f", "x.yaml", "a", "b", "c"}, "the source and the new instance's names"},
		{NewCmdApply, []string{}, "a fleet file"},
	} {
		_, err := run(t, tc.mk, tc.args...)
		if err == nil || !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}
