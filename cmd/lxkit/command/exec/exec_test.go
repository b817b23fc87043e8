package exec

import (
	"context"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
)

// TestAutomaticTTY: the command gets a terminal when lxkit's stdin and
// stdout are both terminals, as with lxc exec; -t always, -T never, and
// both at once is a usage error.
func TestAutomaticTTY(t *testing.T) {
	for _, tc := range []struct {
		stdin, stdout bool
		flags         []string
		want          bool
	}{
		{true, true, nil, true},
		{true, false, nil, false}, // output piped
		{false, true, nil, false}, // input piped
		{false, false, []string{"-t"}, true},
		{true, true, []string{"-T"}, false},
	} {
		ios, _, _, _ := iostreams.Test()
		ios.SetStdinTTY(tc.stdin)
		ios.SetStdoutTTY(tc.stdout)
		var got *Options
		cmd := NewCmdExec(cmdutil.NewFactory(ios), func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(append(append([]string{"web"}, tc.flags...), "--", "sh"))
		if err := cmd.Execute(); err != nil || got == nil || got.TTY != tc.want {
			t.Errorf("stdin tty %v, stdout tty %v, %v: tty %v, %v; want %v", tc.stdin, tc.stdout, tc.flags, got != nil && got.TTY, err, tc.want)
		}
	}
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdExec(cmdutil.NewFactory(ios), func(context.Context, *Options) error { return nil })
	cmd.SetArgs([]string{"web", "-t", "-T", "--", "sh"})
	if err := cmd.Execute(); err == nil || !cmdutil.IsUsage(err) {
		t.Errorf("-t -T: %v, want a usage error", err)
	}
}
