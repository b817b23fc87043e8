package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
)

// Images manages a host's image store: images by alias or fingerprint,
// their aliases, publishing instances as images and copying images from
// host to host.
type Images struct{ h *Host }

// Images returns the host's image store.
func (h *Host) Images() *Images { return &Images{h: h} }

func imagePath(fp string) string { return "/1.0/images/" + url.PathEscape(fp) }

func aliasPath(name string) string { return "/1.0/images/aliases/" + url.PathEscape(name) }

// List returns every image of the host.
func (im *Images) List(ctx context.Context) ([]api.Image, error) {
	var out []api.Image
	if _, err := im.h.c.Query(ctx, http.MethodGet, "/1.0/images?recursion=1", nil, &out); err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	return out, nil
}

// Resolve returns the full fingerprint of the image ref names: an alias,
// or a fingerprint or a unique prefix of one (an alias wins). A ref that
// names nothing is an error matching errdefs.ErrNotFound; an ambiguous
// prefix one matching errdefs.ErrInvalidArgument.
func (im *Images) Resolve(ctx context.Context, ref string) (string, error) {
	if err := ValidateName("image", ref); err != nil {
		return "", err
	}
	var alias api.ImageAliasesEntry
	_, err := im.h.c.Query(ctx, http.MethodGet, aliasPath(ref), nil, &alias)
	if err == nil {
		return alias.Target, nil
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		return "", err
	}
	fp, err := im.ResolveFingerprint(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "image %s not found on %s (no alias or fingerprint of that name)", ref, im.h.c.Addr())
	}
	return fp, err
}

// ResolveFingerprint returns the full fingerprint that prefix (any case)
// begins; none is an error matching errdefs.ErrNotFound, several one
// matching errdefs.ErrInvalidArgument.
func (im *Images) ResolveFingerprint(ctx context.Context, prefix string) (string, error) {
	var urls []string
	if _, err := im.h.c.Query(ctx, http.MethodGet, "/1.0/images", nil, &urls); err != nil {
		return "", err
	}
	var found []string
	for _, u := range urls {
		fp := u[strings.LastIndex(u, "/")+1:]
		if strings.HasPrefix(fp, strings.ToLower(prefix)) {
			found = append(found, fp)
		}
	}
	switch len(found) {
	case 0:
		return "", errdefs.Wrap(errdefs.ErrNotFound, nil, "no image with fingerprint %q on %s", prefix, im.h.c.Addr())
	case 1:
		return found[0], nil
	}
	return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "image %s: the prefix matches %d fingerprints on %s: give more of it", prefix, len(found), im.h.c.Addr())
}

// Get returns the image ref names (see Resolve).
func (im *Images) Get(ctx context.Context, ref string) (*api.Image, error) {
	img, _, err := im.get(ctx, ref)
	return img, err
}

func (im *Images) get(ctx context.Context, ref string) (*api.Image, string, error) {
	fp, err := im.Resolve(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	var img api.Image
	etag, err := im.h.c.Query(ctx, http.MethodGet, imagePath(fp), nil, &img)
	if errors.Is(err, errdefs.ErrNotFound) {
		err = errdefs.Wrap(errdefs.ErrNotFound, nil, "image %s not found on %s", ref, im.h.c.Addr())
	}
	return &img, etag, err
}

// Delete deletes the image ref names, with its aliases; a missing one is
// success (an ambiguous prefix is not).
func (im *Images) Delete(ctx context.Context, ref string) error {
	fp, err := im.Resolve(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := im.h.c.Do(ctx, http.MethodDelete, imagePath(fp), nil, ""); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("deleting image %s: %w", ref, err)
	}
	return nil
}

// Update lets change edit an image's properties and flags, and writes
// them back with the ETag where the driver sends one.
func (im *Images) Update(ctx context.Context, ref string, change func(*api.ImagePut) error) error {
	defer im.h.updates.Lock("/1.0/images/" + ref)()
	return retryOnRace(func() error {
		img, etag, err := im.get(ctx, ref)
		if err != nil {
			return err
		}
		put := api.ImagePut{Public: img.Public, AutoUpdate: img.AutoUpdate, Properties: img.Properties}
		if err := change(&put); err != nil {
			return err
		}
		if _, err = im.h.c.Do(ctx, http.MethodPut, imagePath(img.Fingerprint), put, etag); err != nil {
			return fmt.Errorf("updating image %s: %w", ref, err)
		}
		return nil
	})
}

// Aliases returns every image alias of the host.
func (im *Images) Aliases(ctx context.Context) ([]api.ImageAliasesEntry, error) {
	var out []api.ImageAliasesEntry
	if _, err := im.h.c.Query(ctx, http.MethodGet, "/1.0/images/aliases?recursion=1", nil, &out); err != nil {
		return nil, fmt.Errorf("listing image aliases: %w", err)
	}
	return out, nil
}

// CreateAlias makes name an alias of the image ref names. The alias
// existing already for that image is success; for another image it is
// an error matching errdefs.ErrConflict (delete it first, or use
// MoveAlias).
func (im *Images) CreateAlias(ctx context.Context, name, ref, description string) error {
	if err := ValidateName("image alias", name); err != nil {
		return err
	}
	fp, err := im.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	var cur api.ImageAliasesEntry
	_, err = im.h.c.Query(ctx, http.MethodGet, aliasPath(name), nil, &cur)
	switch {
	case err == nil && cur.Target == fp:
		return nil
	case err == nil:
		return errdefs.Wrap(errdefs.ErrConflict, nil, "image alias %s already names image %.12s on %s", name, cur.Target, im.h.c.Addr())
	case !errors.Is(err, errdefs.ErrNotFound):
		return err
	}
	body := api.ImageAliasesPost{Name: name, Description: description, Target: fp}
	if _, err := im.h.c.Query(ctx, http.MethodPost, "/1.0/images/aliases", body, nil); err != nil {
		return fmt.Errorf("creating image alias %s: %w", name, err)
	}
	return nil
}

// MoveAlias makes name an alias of the image ref names, wherever it
// pointed before (it is created if missing).
func (im *Images) MoveAlias(ctx context.Context, name, ref string) error {
	if err := ValidateName("image alias", name); err != nil {
		return err
	}
	fp, err := im.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	var cur api.ImageAliasesEntry
	_, err = im.h.c.Query(ctx, http.MethodGet, aliasPath(name), nil, &cur)
	if errors.Is(err, errdefs.ErrNotFound) {
		return im.CreateAlias(ctx, name, fp, "")
	}
	if err != nil || cur.Target == fp {
		return err
	}
	body := map[string]string{"target": fp, "description": cur.Description}
	if _, err := im.h.c.Query(ctx, http.MethodPut, aliasPath(name), body, nil); err != nil {
		return fmt.Errorf("moving image alias %s: %w", name, err)
	}
	return nil
}

// DeleteAlias deletes an alias (not its image); a missing one is success.
func (im *Images) DeleteAlias(ctx context.Context, name string) error {
	if err := ValidateName("image alias", name); err != nil {
		return err
	}
	if _, err := im.h.c.Query(ctx, http.MethodDelete, aliasPath(name), nil, nil); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("deleting image alias %s: %w", name, err)
	}
	return nil
}

// RenameAlias renames an alias. A missing one is an error matching
// errdefs.ErrNotFound, an existing newName matching ErrConflict.
//
// The new alias is made before the old one goes, rather than renamed in
// place: LXD 5.0.2 answers a rename (POST) only after 10 seconds.
func (im *Images) RenameAlias(ctx context.Context, name, newName string) error {
	for _, n := range []string{name, newName} {
		if err := ValidateName("image alias", n); err != nil {
			return err
		}
	}
	var cur api.ImageAliasesEntry
	if _, err := im.h.c.Query(ctx, http.MethodGet, aliasPath(name), nil, &cur); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return errdefs.Wrap(errdefs.ErrNotFound, nil, "image alias %s not found on %s", name, im.h.c.Addr())
		}
		return err
	}
	if _, err := im.h.c.Query(ctx, http.MethodGet, aliasPath(newName), nil, nil); err == nil {
		return errdefs.Wrap(errdefs.ErrConflict, nil, "image alias %s already exists on %s", newName, im.h.c.Addr())
	}
	body := api.ImageAliasesPost{Name: newName, Description: cur.Description, Target: cur.Target}
	if _, err := im.h.c.Query(ctx, http.MethodPost, "/1.0/images/aliases", body, nil); err != nil {
		return fmt.Errorf("renaming image alias %s: %w", name, err)
	}
	if err := im.DeleteAlias(ctx, name); err != nil {
		return fmt.Errorf("renaming image alias %s: %s is made, but: %w", name, newName, err)
	}
	return nil
}

// Progress is what a long image operation reports as it goes.
type Progress struct {
	// Text is the daemon's own words, e.g. "rootfs: 45% (12.3MB/s)";
	// empty when it said nothing yet.
	Text string
	// Done is set on the last report, when the operation has ended.
	Done bool
	// Bytes and Total count what lxkit itself moves of an image's files,
	// sent (Import) or received (Export) so far and in all; zero when
	// the daemon does the work.
	Bytes, Total int64
}

// PublishOptions says how to make an image of an instance.
type PublishOptions struct {
	// Snapshot publishes that snapshot rather than the instance.
	Snapshot   string
	Aliases    []string
	Public     bool
	Properties map[string]string
	// Progress, if set, is called as the daemon packs the image.
	Progress func(Progress)
}

// Publish makes an image of a stopped instance (or of one of its
// snapshots) and returns its fingerprint. Aliases that exist already
// are moved to the new image.
func (im *Images) Publish(ctx context.Context, instance string, opts PublishOptions) (string, error) {
	if err := ValidateName("instance", instance); err != nil {
		return "", err
	}
	src := &api.ImagesPostSource{Type: "instance", Name: instance}
	if opts.Snapshot != "" {
		if err := ValidateName("snapshot", opts.Snapshot); err != nil {
			return "", err
		}
		src = &api.ImagesPostSource{Type: "snapshot", Name: instance + "/" + opts.Snapshot}
	}
	op, err := im.run(ctx, api.ImagesPost{Source: src, Public: opts.Public, Properties: opts.Properties}, opts.Progress)
	if err != nil {
		return "", fmt.Errorf("publishing %s: %w", src.Name, err)
	}
	fp, _ := op.Metadata["fingerprint"].(string)
	if fp == "" {
		return "", errdefs.Wrap(errdefs.ErrInternal, nil, "publishing %s: the daemon named no fingerprint", src.Name)
	}
	return fp, im.moveAliases(ctx, fp, opts.Aliases)
}

func (im *Images) moveAliases(ctx context.Context, fp string, aliases []string) error {
	for _, a := range aliases {
		if err := im.MoveAlias(ctx, a, fp); err != nil {
			return err
		}
	}
	return nil
}

// CopyOptions says how to copy an image to another host.
type CopyOptions struct {
	// Aliases are made (or moved) on the destination.
	Aliases    []string
	Public     bool
	AutoUpdate bool
	// SourceAddr is the source's HTTPS address as the destination daemon
	// reaches it (https://HOST:PORT); empty means the first address the
	// source announces (its core.https_address).
	SourceAddr string
	// Progress, if set, is called as the destination downloads.
	Progress func(Progress)
}

// CopyTo copies the image ref names to dst and returns its fingerprint.
// The destination daemon pulls it straight from this host over HTTPS,
// with a one-time secret, so the image does not pass through lxkit; this
// host must listen on HTTPS (`lxkit listen`) where dst can reach it. An
// image dst has already is not copied again; its aliases are still set.
func (im *Images) CopyTo(ctx context.Context, dst *Host, ref string, opts CopyOptions) (string, error) {
	img, err := im.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	fp := img.Fingerprint
	if _, err := dst.Images().Resolve(ctx, fp); err == nil {
		return fp, dst.Images().moveAliases(ctx, fp, opts.Aliases)
	}
	server, err := im.h.Server(ctx)
	if err != nil {
		return "", err
	}
	addr := opts.SourceAddr
	if addr == "" {
		if len(server.Environment.Addresses) == 0 {
			return "", errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
				"copying image %s: %s does not listen on HTTPS, so %s cannot pull from it (turn it on with `lxkit listen ADDRESS`)", ref, im.h.c.Addr(), dst.c.Addr())
		}
		addr = server.Environment.Addresses[0]
	}
	if !strings.HasPrefix(addr, "https://") {
		addr = "https://" + addr
	}
	secret, cancelSecret, err := im.secret(ctx, fp)
	if err != nil {
		return "", err
	}
	defer cancelSecret()
	body := api.ImagesPost{
		Public: opts.Public, AutoUpdate: opts.AutoUpdate,
		Source: &api.ImagesPostSource{Type: "image", Mode: "pull", Server: addr, Protocol: "lxd",
			Certificate: server.Environment.Certificate, Secret: secret, Fingerprint: fp},
	}
	if _, err := dst.Images().run(ctx, body, opts.Progress); err != nil {
		return "", fmt.Errorf("copying image %.12s from %s to %s: %w", fp, im.h.c.Addr(), dst.c.Addr(), err)
	}
	return fp, dst.Images().moveAliases(ctx, fp, opts.Aliases)
}

// secret asks for a one-time download secret for an image; cancel drops
// it if it was not used.
func (im *Images) secret(ctx context.Context, fp string) (secret string, cancel func(), err error) {
	st, ok := im.h.c.(hostapi.Starter)
	if !ok {
		return "", nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s cannot start operations without waiting", im.h.c.Addr())
	}
	op, err := st.Start(ctx, http.MethodPost, imagePath(fp)+"/secret", nil, "")
	if err != nil {
		return "", nil, fmt.Errorf("asking %s for a download secret: %w", im.h.c.Addr(), err)
	}
	if op == nil {
		return "", nil, errdefs.Wrap(errdefs.ErrInternal, nil, "asking %s for a download secret: no operation", im.h.c.Addr())
	}
	secret, _ = op.Metadata["secret"].(string)
	cancel = func() {
		cctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		_ = im.h.CancelOperation(cctx, op.ID)
	}
	if secret == "" {
		cancel()
		return "", nil, errdefs.Wrap(errdefs.ErrInternal, nil, "asking %s for a download secret: none in its answer", im.h.c.Addr())
	}
	return secret, cancel, nil
}

// run posts to /1.0/images and follows the operation to its end,
// reporting the daemon's progress lines.
func (im *Images) run(ctx context.Context, body api.ImagesPost, progress func(Progress)) (*api.Operation, error) {
	st, ok := im.h.c.(hostapi.Starter)
	if !ok || progress == nil {
		return im.h.c.Do(ctx, http.MethodPost, "/1.0/images", body, "")
	}
	op, err := st.Start(ctx, http.MethodPost, "/1.0/images", body, "")
	if err != nil || op == nil {
		return op, err
	}
	return im.h.follow(ctx, op, 0, progress)
}

// progressText is the progress line an operation's metadata carries.
func progressText(op *api.Operation) string {
	for _, key := range []string{"download_progress", "create_image_from_container_pack_progress", "progress"} {
		switch v := op.Metadata[key].(type) {
		case string:
			return v
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				return s
			}
		}
	}
	return ""
}
