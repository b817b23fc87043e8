package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// ImageServer is an image server a host pulls images from.
type ImageServer struct {
	// URL is the server's address as the host's daemon reaches it, e.g.
	// https://images.example.org or https://127.0.0.1:8999/images.
	URL string
	// Protocol is "simplestreams" (the default: static image servers,
	// as `lxkit image serve` runs) or "lxd" (the public images of
	// another LXD or Incus host).
	Protocol string
	// Certificate is the server's certificate, PEM, for a server whose
	// certificate no authority the daemon trusts has signed (a
	// self-signed one); empty leaves the daemon to its authorities.
	Certificate string
	// SkipIndexCheck leaves a simplestreams server's index to the daemon.
	// Otherwise lxkit reads it first, from where lxkit runs and within
	// Stall, and refuses a server whose index the daemon should not act
	// on (see Pull): set it only for a URL that the daemon reaches and
	// lxkit does not. A server can still answer the daemon otherwise than
	// lxkit, and the daemons keep a server's index for an hour by URL:
	// the daemon's own checks are then all there is.
	SkipIndexCheck bool
	// Stall bounds how long a pull goes without news: lxkit's reading of
	// the index, then the daemon's operation while it reports no
	// progress (read every second: a few seconds is the least that
	// makes sense). Zero means DefaultStall.
	Stall time.Duration
}

// DefaultStall is ImageServer.Stall's default. The daemons report a
// download's progress at every 1% (LXD 5.0.2, Incus 6.0.4): a large
// image over a slow link can go minutes between reports.
const DefaultStall = 5 * time.Minute

// Image server protocols.
const (
	ProtocolSimpleStreams = "simplestreams"
	ProtocolLXD           = "lxd"
)

func (s ImageServer) check() (ImageServer, error) {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return s, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image server %q: expected https://HOST[:PORT][/PATH]", s.URL)
	}
	switch s.Protocol {
	case "":
		s.Protocol = ProtocolSimpleStreams
	case ProtocolSimpleStreams, ProtocolLXD:
	default:
		return s, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image server protocol %q: use %s or %s", s.Protocol, ProtocolSimpleStreams, ProtocolLXD)
	}
	if s.Certificate != "" && !strings.Contains(s.Certificate, "-----BEGIN CERTIFICATE-----") {
		return s, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "the certificate of image server %s is not PEM", s.URL)
	}
	return s, nil
}

// checkRemoteRef checks an image's name on a server: an alias or a
// fingerprint (prefix). Server aliases may have slashes (ubuntu/24.04).
func checkRemoteRef(ref string) error {
	if ref == "" {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image: empty name")
	}
	for _, r := range ref {
		if r <= ' ' || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029' {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image %q: white space or a control character in its name", ref)
		}
	}
	return nil
}

// CopyFromServer makes the host pull the image ref names (an alias on the
// server, or a fingerprint or a unique prefix of one) from an image server
// and returns its fingerprint. The daemon downloads it itself, so the
// server's URL is as the daemon reaches it. An image the host has already
// is not downloaded again. opts.Aliases are made (or moved) on the host,
// and no others: Incus would otherwise give the image the server's
// aliases for it, and refuse the copy where one exists. opts.SourceAddr is
// CopyTo's and must be empty.
//
// The pull is Pull's: a simplestreams server's index is checked first
// (errdefs.ErrIntegrity for one the daemon should not act on), and a pull
// without news for src.Stall, or whose ctx ends, is given up and
// cancelled where the daemon can (*AbandonedError). A server that does
// not have ref gives an error matching errdefs.ErrNotFound; a certificate
// the daemon could not verify, errdefs.ErrCertificate; a server it could
// not reach, errdefs.ErrUnavailable; files that are not what the index
// says, errdefs.ErrIntegrity (see hostapi.PullError).
func (im *Images) CopyFromServer(ctx context.Context, src ImageServer, ref string, opts CopyOptions) (string, error) {
	src, err := src.check()
	if err != nil {
		return "", err
	}
	if err := checkRemoteRef(ref); err != nil {
		return "", err
	}
	if opts.SourceAddr != "" {
		return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "copying image %s from %s: SourceAddr is for CopyTo", ref, src.URL)
	}
	for _, a := range opts.Aliases {
		if err := ValidateName("image alias", a); err != nil {
			return "", err
		}
	}
	protocol := src.Protocol
	if protocol == ProtocolLXD {
		// Incus reaches LXD and Incus servers alike as "incus", and fails
		// to record an image's source as "lxd" after the download.
		server, err := im.h.Server(ctx)
		if err != nil {
			return "", err
		}
		if server.Environment.Server == "incus" {
			protocol = "incus"
		}
	}
	// One alias of our own, dropped after: a request with aliases gets
	// exactly those from both daemons.
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	scratch := "lxkit-pull-" + hex.EncodeToString(b)
	body := api.ImagesPost{
		Public: opts.Public, AutoUpdate: opts.AutoUpdate,
		Aliases: []api.ImageAlias{{Name: scratch, Description: "lxkit: made while copying, deleted after"}},
		Source: &api.ImagesPostSource{Type: "image", Mode: "pull", Server: src.URL, Protocol: protocol,
			Certificate: src.Certificate, Alias: ref},
	}
	op, err := im.h.Pull(ctx, src, ref, "/1.0/images", body, opts.Progress)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	derr := im.DeleteAlias(dctx, scratch)
	cancel()
	if err != nil {
		return "", fmt.Errorf("copying image %s to %s: %w", ref, im.h.c.Addr(), err) // err names the server
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	if fp == "" {
		return "", errdefs.Wrap(errdefs.ErrInternal, nil, "copying image %s from %s: %s named no fingerprint", ref, src.URL, im.h.c.Addr())
	}
	if derr != nil {
		return fp, derr
	}
	return fp, im.moveAliases(ctx, fp, opts.Aliases)
}
