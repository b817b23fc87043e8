package lxccmd

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Classify turns a failed lxc or incus command into an error of an errdefs
// class, from its exit code and standard error. The message is the last
// "Error: " line; anything printed before it (progress, the first-run
// hint) is noise. Exit code 127 (no such command) is ErrUnavailable,
// never ErrNotFound, which would say the container is missing. A zero
// exit code is success whatever stderr says. The message's class is
// hostapi.Classify's; an unknown one is ErrInternal, with the message kept.
func Classify(code int, stderr []byte) error { return classify(code, stderr, false) }

// classify is Classify for a host that has or has not answered before
// (reached). A daemon that answered and now refuses connections went away
// between two commands (killed, restarting): for the operation that was
// under way that is a lost connection, as it is in the middle of one.
func classify(code int, stderr []byte, reached bool) error {
	if code == 0 {
		return nil
	}
	msg := Message(stderr)
	if code == 127 { // the command itself is missing: never "not found"
		if msg == "" {
			msg = "command not found"
		}
		return errdefs.Wrap(errdefs.ErrUnavailable, nil, "%s", msg)
	}
	if msg == "" {
		msg = "exit status " + strconv.Itoa(code)
	}
	m := hostapi.Classify(msg)
	switch {
	case m.Say != "":
		msg = m.Say + ": " + msg
	case reached && m.Refused:
		msg = hostapi.LostConnection + " (it answered before, now it refuses connections): " + msg
	}
	return errdefs.Wrap(m.Class, nil, "%s", msg)
}

// Message returns the text after the last "Error: " in stderr, or its last
// non-empty line when there is none.
func Message(stderr []byte) string {
	if i := bytes.LastIndex(stderr, []byte("Error: ")); i >= 0 {
		return strings.TrimSpace(string(stderr[i+len("Error: "):]))
	}
	lines := strings.Split(strings.TrimSpace(string(stderr)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
