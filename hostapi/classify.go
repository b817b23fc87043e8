package hostapi

import (
	"errors"
	"strings"

	"github.com/lxkit/lxkit/errdefs"
)

// This file is the one place where lxkit reads the words of a daemon (or
// of its command, lxc or incus). Each row names the daemons it was seen
// on; a daemon's change of wording shows here and in this package's test.

// LostConnection is how lxkit says that a daemon it was talking to went
// away in the middle (killed, restarted, a cut connection).
const LostConnection = "connection to the daemon lost"

// Meaning is what a message says, for lxkit.
type Meaning struct {
	// Class is an errdefs class; ErrInternal for a message no row knows.
	Class error
	// Say, when not empty, goes before the message (LostConnection).
	Say string
	// Refused marks a daemon that is not taking connections: for a caller
	// it answered before, that is a lost connection too.
	Refused bool
}

// Classify says what a message of a daemon or of lxc or incus means: the
// text after "Error: " that the command prints, which is the daemon's own
// (the same the REST API answers) or the command's. The first row that
// matches wins.
func Classify(msg string) Meaning {
	low := strings.ToLower(msg)
	for _, r := range messages {
		if strings.Contains(low, r.words) {
			return r.Meaning
		}
	}
	return Meaning{Class: errdefs.ErrInternal}
}

var (
	refused = Meaning{Class: errdefs.ErrUnavailable, Refused: true}
	lost    = Meaning{Class: errdefs.ErrUnavailable, Say: LostConnection}
)

// messages are Classify's rows, lower case; LXD 5.0.2 and Incus 6.0.4
// (and their commands) unless a row says otherwise.
var messages = []struct {
	words string
	Meaning
}{
	{"etag doesn't match", Meaning{Class: errdefs.ErrPreconditionFailed}},
	{"precondition failed", Meaning{Class: errdefs.ErrPreconditionFailed}},
	{"not authorized", Meaning{Class: errdefs.ErrForbidden}},
	{"forbidden", Meaning{Class: errdefs.ErrForbidden}},
	{"certificate is restricted", Meaning{Class: errdefs.ErrForbidden}},
	{"not trusted", Meaning{Class: errdefs.ErrUnauthorized}},
	{"unauthorized", Meaning{Class: errdefs.ErrUnauthorized}},
	{"permission denied", Meaning{Class: errdefs.ErrForbidden}},
	// The daemon not answering.
	{"unable to connect", refused},
	{"connection refused", refused},
	{"socket not accessible", refused},
	{"is the server running", refused},
	// No socket at all (lxc 5.0.2 dials it; incus 6.0.4 looks first):
	// never "not found", which would pass for the object asked about.
	{"connect: no such file or directory", refused},
	{"doesn't appear to be started", refused},
	// A cluster member that does not answer, as the member asked says
	// (MemberDown).
	{"missing event connection with target cluster member", Meaning{Class: errdefs.ErrUnavailable}},
	{"server isn't ready yet", Meaning{Class: errdefs.ErrUnavailable}},
	// The daemon's own transfer of an instance to another member failed:
	// it answered, and the broken connection its words name is its own,
	// not lxkit's (Incus 6.0.4: "Instance move to destination failed on
	// source: Failed migration on source: Rsync send failed: ... use of
	// closed network connection").
	{"failed migration on", Meaning{Class: errdefs.ErrInternal}},
	// The daemon went away in the middle: lxc and incus print the Go
	// error of the broken read or write, or of the websocket's abnormal
	// closure.
	{"close 1006", lost},
	{"connection reset by peer", lost},
	{"broken pipe", lost},
	{"unexpected eof", lost},
	{": eof", lost},
	// Go's HTTP client writing a request body (lxc file push, LXD 5.0.2)
	// on a connection its reader already closed, the daemon gone.
	{"use of closed network connection", lost},
	// incus file push and pull go through SFTP: its client's error for a
	// connection that ended is just that (incus 6.0.4).
	{"connection lost", lost},
	{"no such file or directory", Meaning{Class: errdefs.ErrNotFound}},
	{"not found", Meaning{Class: errdefs.ErrNotFound}},
	{"doesn't exist", Meaning{Class: errdefs.ErrNotFound}},
	{"does not exist", Meaning{Class: errdefs.ErrNotFound}},
	{"already exists", Meaning{Class: errdefs.ErrConflict}},
	{"already running", Meaning{Class: errdefs.ErrConflict}},
	{"already stopped", Meaning{Class: errdefs.ErrConflict}},
	{"is not running", Meaning{Class: errdefs.ErrConflict}},
	{"non-reusable operation", Meaning{Class: errdefs.ErrConflict}},
	{"operation canceled", Meaning{Class: errdefs.ErrCanceled}},
	{"invalid", Meaning{Class: errdefs.ErrInvalidArgument}},
	{"bad request", Meaning{Class: errdefs.ErrInvalidArgument}},
	{"unknown flag", Meaning{Class: errdefs.ErrInvalidArgument}},
	{"not implemented", Meaning{Class: errdefs.ErrNotImplemented}},
	{"not supported", Meaning{Class: errdefs.ErrNotImplemented}},
}

// PullError classifies err, a daemon's failure to get the image ref from
// the image server at serverURL (copying it, or creating an instance from
// it), by what the daemon said: ErrNotFound for an image (or a file) the
// server does not have, ErrCertificate for a certificate the daemon could
// not verify, ErrUnavailable for a server it could not reach,
// ErrIntegrity for files that are not what the server's index says they
// are. It keeps err's message and adds what it means; another failure is
// returned as it is. err should be the driver's error as it came, which
// says only what the daemon (or its command) said and the request it
// answered.
func PullError(err error, serverURL, ref string) error {
	var oe *errdefs.OperationError
	if err == nil || errors.As(err, &oe) && oe.Status == "Cancelled" {
		return err
	}
	low := strings.ToLower(err.Error())
	for _, c := range pullMessages {
		if strings.Contains(low, c.words) {
			if c.hint == "" {
				return errdefs.Wrap(c.class, err, "image %s not found on %s", ref, serverURL)
			}
			return errdefs.Wrap(c.class, err, c.hint, serverURL)
		}
	}
	return err
}

// pullMessages are what the daemons say when they fail to get an image
// from a server, first match wins: the words of their image server
// clients, LXD 5.0.2's and Incus 6.0.4's alike.
var pullMessages = []struct {
	words string
	class error
	hint  string // a format for the server's URL; not-found names the image
}{
	// "Hash mismatch for URL: GOT != WANT": a file that is not the one
	// the index describes (more bytes, fewer, others).
	{"hash mismatch", errdefs.ErrIntegrity, "the daemon refused a file from %s: it is not the one the server's index describes"},
	// "Image fingerprint doesn't match. Got GOT expected WANT": a split
	// image's files that do not make the index's combined fingerprint.
	{"fingerprint doesn't match", errdefs.ErrIntegrity, "the daemon refused the image from %s: its files do not make the fingerprint the server's index gives"},
	// "Unable to fetch URL: 404 Not Found" (LXD), "...: resource not
	// found" (Incus): a document or file the server lacks.
	{"unable to fetch", errdefs.ErrNotFound, "%s does not have a file the daemon asked it for"},
	{"x509:", errdefs.ErrCertificate, "the daemon could not verify the certificate of %s (for a self-signed server, give its certificate, PEM)"},
	{"certificate", errdefs.ErrCertificate, "the daemon could not use or verify the certificate of %s"},
	{"unable to connect", errdefs.ErrUnavailable, "the daemon could not reach %s"},
	{"connection refused", errdefs.ErrUnavailable, "the daemon could not reach %s"},
	{"no such host", errdefs.ErrUnavailable, "the daemon could not resolve the name of %s"},
	{"i/o timeout", errdefs.ErrUnavailable, "the daemon timed out reaching %s"},
	{"couldn't be found", errdefs.ErrNotFound, ""},
	{"doesn't exist", errdefs.ErrNotFound, ""},
	{"not found", errdefs.ErrNotFound, ""},
}
