package trust

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
)

// parse runs args through the command mk makes and returns the options
// its test hook got.
func parse(mk func(*cmdutil.Factory, runFunc) *cobra.Command, args ...string) (*Options, error) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := mk(cmdutil.NewFactory(ios), func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		mk   func(*cmdutil.Factory, runFunc) *cobra.Command
		args []string
		want Options
	}{
		{NewCmdTrustList, nil, Options{Args: []string{}}},
		{NewCmdTrustAdd, []string{"client.crt", "--name", "ci"}, Options{Args: []string{"client.crt"}, Name: "ci"}},
		{NewCmdTrustRemove, []string{"abcdef"}, Options{Args: []string{"abcdef"}}},
		{NewCmdTrustToken, []string{"laptop"}, Options{Args: []string{"laptop"}}},
		{NewCmdListen, []string{"127.0.0.1:8443"}, Options{Args: []string{"127.0.0.1:8443"}}},
		{NewCmdCertGenerate, []string{"--force"}, Options{Args: []string{}, Force: true}},
		{NewCmdCertShow, nil, Options{Args: []string{}}},
	} {
		o, err := parse(tc.mk, tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		got := Options{Args: o.Args, Name: o.Name, Force: o.Force}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: options %+v, want %+v", tc.args, got, tc.want)
		}
		if o.IO == nil || o.Globals == nil || o.Client == nil {
			t.Errorf("%v: options without the factory's parts: %+v", tc.args, o)
		}
	}
	for _, tc := range []struct {
		mk   func(*cmdutil.Factory, runFunc) *cobra.Command
		args []string
		want string
	}{
		{NewCmdTrustAdd, nil, "one certificate file"},
		{NewCmdTrustRemove, []string{"a", "b"}, "one fingerprint"},
		{NewCmdListen, nil, "one address"},
		{NewCmdCertShow, []string{"x"}, "no arguments"},
	} {
		_, err := parse(tc.mk, tc.args...)
		if err == nil || !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}
