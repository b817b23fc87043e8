package hostapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

// The daemons' and their commands' own words, as they answered.
func TestClassify(t *testing.T) {
	cases := []struct {
		msg     string
		class   error
		say     string
		refused bool
	}{
		{"Instance not found", errdefs.ErrNotFound, "", false},
		{"Missing event connection with target cluster member", errdefs.ErrUnavailable, "", false},
		{"Server isn't ready yet", errdefs.ErrUnavailable, "", false},
		{`Failed to fetch instance "x" in project "default": Instance not found`, errdefs.ErrNotFound, "", false},
		{"Not Found", errdefs.ErrNotFound, "", false},
		{"file does not exist", errdefs.ErrNotFound, "", false},
		{`Failed creating instance record: Add instance info to the database: This "instances" entry already exists`, errdefs.ErrConflict, "", false},
		{"The instance is already running", errdefs.ErrConflict, "", false},
		{"Instance is not running", errdefs.ErrConflict, "", false},
		{"ETag doesn't match: abc vs def", errdefs.ErrPreconditionFailed, "", false},
		{"not authorized", errdefs.ErrForbidden, "", false},
		{`Get "http://unix.socket/1.0": dial unix /var/lib/lxd/unix.socket: connect: connection refused`, errdefs.ErrUnavailable, "", true},
		{`Get "http://unix.socket/1.0": dial unix /x/unix.socket: connect: no such file or directory`, errdefs.ErrUnavailable, "", true},
		{"The incus daemon doesn't appear to be started (socket path: /x/unix.socket)", errdefs.ErrUnavailable, "", true},
		{`LXD unix socket "/x/unix.socket" not accessible: permission denied`, errdefs.ErrForbidden, "", false},
		{"Invalid config: Unknown configuration key: user.x y", errdefs.ErrInvalidArgument, "", false},
		{"Creating instance: Instance operation lock non-reusable operation", errdefs.ErrConflict, "", false},
		{"websocket: close 1006 (abnormal closure): unexpected EOF", errdefs.ErrUnavailable, LostConnection, false},
		{`Get "http://unix.socket/1.0/operations/8d74/wait?": EOF`, errdefs.ErrUnavailable, LostConnection, false},
		{"read unix @->/var/lib/lxd/unix.socket: read: connection reset by peer", errdefs.ErrUnavailable, LostConnection, false},
		{"write unix @->/var/lib/lxd/unix.socket: write: broken pipe", errdefs.ErrUnavailable, LostConnection, false},
		{"lxkit-x:/root/big: unexpected EOF", errdefs.ErrUnavailable, LostConnection, false},
		{`Instance move to destination failed on source: Failed migration on source: Rsync send failed: c1, /var/lib/incus/storage-pools/default/containers/c1/: [exit status 12 read unix @incusd/c99->@: use of closed network connection] (rsync: connection unexpectedly closed (63 bytes received so far) [sender]`, errdefs.ErrInternal, "", false},
		{`Post "http://unix.socket/1.0/instances/x/files?path=%2Froot%2Fup": write unix @->/var/lib/lxd/unix.socket: use of closed network connection`, errdefs.ErrUnavailable, LostConnection, false},
		{"connection lost", errdefs.ErrUnavailable, LostConnection, false},
		{"unknown flag: --bogus", errdefs.ErrInvalidArgument, "", false},
		{"something new", errdefs.ErrInternal, "", false},
		{"", errdefs.ErrInternal, "", false},
	}
	for _, c := range cases {
		m := Classify(c.msg)
		if m.Class != c.class || m.Say != c.say || m.Refused != c.refused {
			t.Errorf("Classify(%q) = %+v; want class %v, say %q, refused %v", c.msg, m, c.class, c.say, c.refused)
		}
	}
}

// Rows are matched against the lower-cased message: a row with a capital
// letter would never match.
func TestRowsLowerCase(t *testing.T) {
	for _, r := range messages {
		if r.words != strings.ToLower(r.words) {
			t.Errorf("row %q is not lower case", r.words)
		}
	}
	for _, r := range pullMessages {
		if r.words != strings.ToLower(r.words) {
			t.Errorf("pull row %q is not lower case", r.words)
		}
	}
	for _, q := range []Quirk{CreateRace, MadeMeanwhile, Busy, UpdateRace, StartGaveUp, RootMissing, CommandNotFound, InUse, FileServerHiccup, SymlinkPull, StateRace, PullCut, MemberDown, TokenElsewhere} {
		if q.Seen == "" || len(q.words) == 0 {
			t.Errorf("quirk %+v names no daemon or no words", q)
		}
		for _, w := range q.words {
			if w != strings.ToLower(w) {
				t.Errorf("quirk word %q is not lower case", w)
			}
		}
	}
}

func TestOperationDescriptions(t *testing.T) {
	if !CreatesInstance("Creating instance") || CreatesInstance("Creating profile") {
		t.Error("CreatesInstance")
	}
	for desc, want := range map[string]bool{"Creating instance": true, "Creating storage volume": true, "Snapshotting instance": true,
		"Executing command": false, "Deleting instance": false} {
		if MakesObject(desc) != want {
			t.Errorf("MakesObject(%q) = %v", desc, !want)
		}
	}
}

// What the daemons say when a pull fails (LXD 5.0.2 and Incus 6.0.4,
// through REST as an operation's error, through their command as its
// classified failure), and what lxkit makes of it.
func TestPullError(t *testing.T) {
	const url = "https://127.0.0.1:8999/x"
	op := func(msg string) error {
		return &errdefs.OperationError{ID: "1", Description: "Downloading image", Status: "Failure", Err: msg}
	}
	cli := func(msg string) error {
		return fmt.Errorf("POST /1.0/images: %w", errdefs.Wrap(errdefs.ErrInternal, nil, "%s", msg))
	}
	for _, c := range []struct {
		err   error
		class error
		says  string
	}{
		{op(`Failed getting remote image info: Failed getting image: Failed parsing stream: Get "` + url + `/streams/v1/index.json": x509: certificate signed by unknown authority`),
			errdefs.ErrCertificate, "verify the certificate of " + url},
		{cli(`Failed getting remote image info: Failed getting image: Failed parsing stream: Get "` + url + `/streams/v1/index.json": tls: failed to verify certificate: x509: certificate signed by unknown authority`),
			errdefs.ErrCertificate, "verify the certificate of " + url},
		{op(`Failed to connect to simple streams server "` + url + `": Invalid remote certificate`), errdefs.ErrCertificate, "use or verify the certificate of " + url},
		{op("Failed getting remote image info: Failed getting image: The requested image couldn't be found"), errdefs.ErrNotFound, "image web not found on " + url},
		{cli("Failed getting remote image info: Failed getting image: The requested image couldn't be found"), errdefs.ErrNotFound, "image web not found"},
		{op("Failed getting remote image info: Image not found"), errdefs.ErrNotFound, "not found"},
		{op(`Failed getting remote image info: Failed getting image: Failed parsing stream: Get "https://127.0.0.1:1/streams/v1/index.json": Unable to connect to: 127.0.0.1:1 ([dial tcp 127.0.0.1:1: connect: connection refused])`),
			errdefs.ErrUnavailable, "could not reach " + url},
		{op("Remote image with size 5 exceeds allowed bugdget of 1"), nil, "bugdget"},
		{op("Hash mismatch for " + url + "/images/ab/x.tar.gz: 1d76139f != 109e13ce"), errdefs.ErrIntegrity, "not the one the server's index describes"},
		{cli("Hash mismatch for " + url + "/images/ab/x.tar.gz: 1d76139f != 109e13ce"), errdefs.ErrIntegrity, "refused a file from " + url},
		{op("Image fingerprint doesn't match. Got 27a3a5cb expected de75b387"), errdefs.ErrIntegrity, "do not make the fingerprint"},
		{op("Unable to fetch https://127.0.0.1:35805/etc/passwd: 404 Not Found"), errdefs.ErrNotFound, url + " does not have a file"},
		{cli("Unable to fetch https://127.0.0.1:38435/etc/passwd: resource not found"), errdefs.ErrNotFound, "does not have a file"},
		{&errdefs.OperationError{Status: "Cancelled", Err: "image not found, cancelled"}, errdefs.ErrCanceled, ""},
		{context.Canceled, context.Canceled, ""},
	} {
		got := PullError(c.err, url, "web")
		if c.class == nil {
			if got != c.err {
				t.Errorf("%v: classified as %v", c.err, got)
			}
			continue
		}
		if !errors.Is(got, c.class) || !strings.Contains(got.Error(), c.says) || !strings.Contains(got.Error(), c.err.Error()) {
			t.Errorf("PullError(%v) = %v, want %v saying %q and the daemon's words", c.err, got, c.class, c.says)
		}
	}
	if PullError(nil, url, "web") != nil {
		t.Error("PullError(nil) is not nil")
	}
}
