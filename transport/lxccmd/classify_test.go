package lxccmd

import (
	"errors"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// What the wrapper adds to hostapi.Classify: the exit code decides, the
// last "Error: " line is the message, 127 is a missing command.
func TestClassify(t *testing.T) {
	hint := "If this is your first time running LXD on this machine, you should also run: lxd init\n" +
		"To start your first container, try: lxc launch ubuntu:22.04\n\n"
	cases := []struct {
		code   int
		stderr string
		class  error // nil: success
		msg    string
	}{
		{0, "", nil, ""},
		{0, hint, nil, ""}, // noise on success is not a failure
		{0, "Error: looks bad but exit 0\n", nil, ""}, // only the exit code decides
		{1, "Error: Instance not found\n", errdefs.ErrNotFound, "Instance not found"},
		{1, hint + "Error: Instance not found\n", errdefs.ErrNotFound, "Instance not found"},
		{1, `Error: Failed to fetch instance "x" in project "default": Instance not found` + "\n", errdefs.ErrNotFound, ""},
		{1, "Error: Not Found\n", errdefs.ErrNotFound, "Not Found"},
		{1, "Error: websocket: close 1006 (abnormal closure): unexpected EOF\n", errdefs.ErrUnavailable, "connection to the daemon lost: websocket: close 1006 (abnormal closure): unexpected EOF"},
		{1, `Error: Get "http://unix.socket/1.0/operations/8d74/wait?": EOF` + "\n", errdefs.ErrUnavailable, `connection to the daemon lost: Get "http://unix.socket/1.0/operations/8d74/wait?": EOF`},
		{1, "Error: something new\n", errdefs.ErrInternal, "something new"},
		{1, "", errdefs.ErrInternal, "exit status 1"},
		{127, "sh: lxc: not found\n", errdefs.ErrUnavailable, "sh: lxc: not found"},
		{127, "", errdefs.ErrUnavailable, "command not found"},
		{2, "Error: unknown flag: --bogus\n", errdefs.ErrInvalidArgument, ""},
	}
	for _, c := range cases {
		err := Classify(c.code, []byte(c.stderr))
		if c.class == nil {
			if err != nil {
				t.Errorf("Classify(%d, %q) = %v; want nil", c.code, c.stderr, err)
			}
			continue
		}
		if !errors.Is(err, c.class) {
			t.Errorf("Classify(%d, %q) = %v; want class %v", c.code, c.stderr, err, c.class)
		}
		if c.msg != "" && err.Error() != c.msg {
			t.Errorf("Classify(%d, %q) message %q; want %q", c.code, c.stderr, err.Error(), c.msg)
		}
	}
}

// Only a refusal changes its words for a host reached before; a lost
// connection and other classes read the same either way.
func TestClassifyReached(t *testing.T) {
	cases := []struct{ stderr, want string }{
		{"Error: dial unix /x/unix.socket: connect: connection refused\n", hostapi.LostConnection + " (it answered before, now it refuses connections): dial unix /x/unix.socket: connect: connection refused"},
		{"Error: The incus daemon doesn't appear to be started (socket path: /x/unix.socket)\n", hostapi.LostConnection + " (it answered before, now it refuses connections): The incus daemon doesn't appear to be started (socket path: /x/unix.socket)"},
		{"Error: websocket: close 1006 (abnormal closure): unexpected EOF\n", hostapi.LostConnection + ": websocket: close 1006 (abnormal closure): unexpected EOF"},
		{"Error: Instance not found\n", "Instance not found"},
	}
	for _, c := range cases {
		if err := classify(1, []byte(c.stderr), true); err == nil || err.Error() != c.want {
			t.Errorf("classify(%q, reached) = %v; want %q", c.stderr, err, c.want)
		}
	}
}
