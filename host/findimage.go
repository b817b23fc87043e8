package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// ImageSource is a place Find looks for an image: an image server the
// daemon pulls from (Server), or another host (Host) the daemon pulls from
// over HTTPS at Addr.
type ImageSource struct {
	// Name says where an image came from, in messages: a remote's name.
	Name   string
	Server *ImageServer
	Host   *Host
	// Addr is Host's HTTPS address as the destination daemon reaches it
	// (see CopyOptions.SourceAddr); empty means the first it announces.
	Addr string
}

// ImageQuery names the image Find looks for: by Alias (or fingerprint
// prefix), or by Properties, which must all match (os, release,
// architecture, variant...); among several, the newest wins.
type ImageQuery struct {
	Alias      string
	Properties map[string]string
}

func (q ImageQuery) String() string {
	if q.Alias != "" {
		return q.Alias
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range q.Properties {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + q.Properties[k])
	}
	return b.String()
}

// FindOptions says how Find brings an image in.
type FindOptions struct {
	// Aliases are set on the image on this host, wherever it came from.
	Aliases []string
	// SkipLocal looks in the sources only: for a name that is a source's
	// (lxc's REMOTE:ALIAS), which this host's alias of the same name is
	// not.
	SkipLocal bool
	// Progress, if set, is called as the daemon downloads.
	Progress func(Progress)
}

// FoundImage is the image Find found, on this host now.
type FoundImage struct {
	Fingerprint string
	// Source is the name of the source it came from; empty when this
	// host had it.
	Source string
}

// Find looks for an image on this host, then in each source in order
// (as juju's FindImage), and copies it here from the first that has it,
// with opts.Aliases. A source that cannot be read is passed over; if no
// source has the image, the error (errdefs.ErrNotFound when none failed)
// says what each answered.
func (im *Images) Find(ctx context.Context, q ImageQuery, sources []ImageSource, opts FindOptions) (*FoundImage, error) {
	if q.Alias == "" && len(q.Properties) == 0 {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "finding an image: give an alias or properties")
	}
	var missed []error
	failed := false // a source that could not say
	if !opts.SkipLocal {
		imgs, err := im.List(ctx)
		if err != nil {
			return nil, err
		}
		if fp := match(imgs, q); fp != "" {
			return &FoundImage{Fingerprint: fp}, im.moveAliases(ctx, fp, opts.Aliases)
		}
		missed = append(missed, fmt.Errorf("not on %s", im.h.c.Addr()))
	}
	for _, src := range sources {
		fp, err := im.findIn(ctx, src, q, opts)
		if err == nil {
			return &FoundImage{Fingerprint: fp, Source: src.Name}, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		missed = append(missed, fmt.Errorf("%s: %w", src.Name, err))
		failed = failed || !errors.Is(err, errdefs.ErrNotFound)
	}
	class := errdefs.ErrNotFound
	if failed {
		class = errdefs.ErrUnavailable
	}
	return nil, errdefs.Wrap(class, errors.Join(missed...), "image %s: found nowhere", q)
}

// findIn copies the image q names from one source.
func (im *Images) findIn(ctx context.Context, src ImageSource, q ImageQuery, opts FindOptions) (string, error) {
	copts := CopyOptions{Aliases: opts.Aliases, Progress: opts.Progress}
	switch {
	case src.Host != nil:
		imgs, err := src.Host.Images().List(ctx)
		if err != nil {
			return "", err
		}
		fp := match(imgs, q)
		if fp == "" {
			return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "no such image")
		}
		copts.SourceAddr = src.Addr
		return src.Host.Images().CopyTo(ctx, im.h, fp, copts)
	case src.Server != nil && src.Server.Protocol == ProtocolLXD:
		// A public LXD server is asked for an alias by the daemon itself.
		if q.Alias == "" {
			return "", errdefs.Wrap(errdefs.ErrNotImplemented, nil, "an lxd-protocol image server is searched by alias only")
		}
		return im.CopyFromServer(ctx, *src.Server, q.Alias, copts)
	case src.Server != nil:
		imgs, err := ServerImages(ctx, *src.Server)
		if err != nil {
			return "", err
		}
		fp := match(imgs, q)
		if fp == "" {
			return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "no such image")
		}
		return im.CopyFromServer(ctx, *src.Server, fp, copts)
	}
	return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "an image source needs a server or a host")
}

// match returns the fingerprint of the newest image q names, or "".
func match(imgs []api.Image, q ImageQuery) string {
	var best *api.Image
	for i := range imgs {
		img := &imgs[i]
		if !matches(img, q) {
			continue
		}
		if best == nil || img.CreatedAt.After(best.CreatedAt) {
			best = img
		}
	}
	if best == nil {
		return ""
	}
	return best.Fingerprint
}

func matches(img *api.Image, q ImageQuery) bool {
	if q.Alias != "" {
		named := slices.ContainsFunc(img.Aliases, func(a api.ImageAlias) bool { return a.Name == q.Alias })
		prefix := len(q.Alias) >= 12 && strings.HasPrefix(img.Fingerprint, strings.ToLower(q.Alias))
		if !named && !prefix {
			return false
		}
	}
	for k, v := range q.Properties {
		// An architecture may be named as the kernel does (x86_64) or as
		// the distribution (amd64).
		if img.Properties[k] != v && (k != "architecture" || img.Architecture != v) {
			return false
		}
	}
	return true
}
