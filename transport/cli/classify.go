package cli

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/lxkit/lxkit/errdefs"
)

// classes maps what lxc and incus print after "Error: " to error classes,
// first match wins. The messages are the daemon's (the same the REST API
// returns) or the client's own.
var classes = []struct {
	substr string
	class  error
	say    string // put before the message, when not empty
}{
	{"etag doesn't match", errdefs.ErrPreconditionFailed, ""},
	{"precondition failed", errdefs.ErrPreconditionFailed, ""},
	{"not authorized", errdefs.ErrForbidden, ""},
	{"forbidden", errdefs.ErrForbidden, ""},
	{"certificate is restricted", errdefs.ErrForbidden, ""},
	{"not trusted", errdefs.ErrUnauthorized, ""},
	{"unauthorized", errdefs.ErrUnauthorized, ""},
	{"permission denied", errdefs.ErrForbidden, ""},
	// The daemon not answering: said as a lost connection by a host that
	// had reached it before (classify).
	{"unable to connect", errdefs.ErrUnavailable, ""},
	{"connection refused", errdefs.ErrUnavailable, ""},
	{"socket not accessible", errdefs.ErrUnavailable, ""},
	{"is the server running", errdefs.ErrUnavailable, ""},
	// No socket at all (lxc 5.0.2 dials it; incus 6.0.4 looks first):
	// never "not found", which would pass for the object asked about.
	{"connect: no such file or directory", errdefs.ErrUnavailable, ""},
	{"doesn't appear to be started", errdefs.ErrUnavailable, ""},
	// The daemon went away in the middle (killed, restarted, a cut
	// connection): lxc and incus print the Go error of the broken read or
	// write, or of the websocket's abnormal closure.
	{"close 1006", errdefs.ErrUnavailable, lostConnection},
	{"connection reset by peer", errdefs.ErrUnavailable, lostConnection},
	{"broken pipe", errdefs.ErrUnavailable, lostConnection},
	{"unexpected eof", errdefs.ErrUnavailable, lostConnection},
	{": eof", errdefs.ErrUnavailable, lostConnection},
	// Go's HTTP client writing a request body (lxc file push, LXD 5.0.2)
	// on a connection its reader already closed, the daemon gone.
	{"use of closed network connection", errdefs.ErrUnavailable, lostConnection},
	// incus file push and pull go through SFTP: its client's error for a
	// connection that ended is just that (incus 6.0.4).
	{"connection lost", errdefs.ErrUnavailable, lostConnection},
	{"no such file or directory", errdefs.ErrNotFound, ""},
	{"not found", errdefs.ErrNotFound, ""},
	{"doesn't exist", errdefs.ErrNotFound, ""},
	{"does not exist", errdefs.ErrNotFound, ""},
	{"already exists", errdefs.ErrConflict, ""},
	{"already running", errdefs.ErrConflict, ""},
	{"already stopped", errdefs.ErrConflict, ""},
	{"is not running", errdefs.ErrConflict, ""},
	{"non-reusable operation", errdefs.ErrConflict, ""},
	{"operation canceled", errdefs.ErrCanceled, ""},
	{"invalid", errdefs.ErrInvalidArgument, ""},
	{"bad request", errdefs.ErrInvalidArgument, ""},
	{"unknown flag", errdefs.ErrInvalidArgument, ""},
	{"not implemented", errdefs.ErrNotImplemented, ""},
	{"not supported", errdefs.ErrNotImplemented, ""},
}

// lostConnection is how lxkit says that a daemon it was talking to went
// away in the middle (the REST client says it the same way).
const lostConnection = "connection to the daemon lost"

// Classify turns a failed lxc or incus command into an error of an errdefs
// class, from its exit code and standard error. The message is the last
// "Error: " line; anything printed before it (progress, the first-run
// hint) is noise. Exit code 127 (no such command) is ErrUnavailable,
// never ErrNotFound, which would say the container is missing. A zero
// exit code is success whatever stderr says. An unknown message is
// ErrInternal, with the message kept.
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
	low := strings.ToLower(msg)
	for _, c := range classes {
		if strings.Contains(low, c.substr) {
			switch {
			case c.say != "":
				msg = c.say + ": " + msg
			case reached && c.class == errdefs.ErrUnavailable:
				// The unavailable rows with no words of their own are
				// the refusals: keep any new one of another kind apart.
				msg = lostConnection + " (it answered before, now it refuses connections): " + msg
			}
			return errdefs.Wrap(c.class, nil, "%s", msg)
		}
	}
	return errdefs.Wrap(errdefs.ErrInternal, nil, "%s", msg)
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
