package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/imagefile"
)

func (im *Images) filer() (hostapi.ImageFiler, error) {
	f, ok := im.h.c.(hostapi.ImageFiler)
	if !ok {
		return nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "%s cannot move image files", im.h.c.Addr())
	}
	return f, nil
}

// ExportOptions says how to export an image.
type ExportOptions struct {
	// Progress, if set, is called as the files arrive, with Bytes and
	// Total.
	Progress func(Progress)
}

// Export writes the files of the image ref names (see Resolve) into dir,
// which must exist, and returns their paths: one unified tarball, or a
// split image's metadata file then its rootfs, named as the daemon names
// them (FINGERPRINT.tar.xz; meta-FINGERPRINT.EXT and FINGERPRINT.EXT).
// Files of those names are replaced. The files are checked against the
// image's fingerprint; a failed export leaves none. A ref that names no
// image is an error matching errdefs.ErrNotFound.
func (im *Images) Export(ctx context.Context, ref, dir string, opts ExportOptions) (files []string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "exporting image %s: %s is not a directory", ref, dir)
	}
	filer, err := im.filer()
	if err != nil {
		return nil, err
	}
	img, err := im.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	report := byteReporter(opts.Progress, img.Size)
	files, err = filer.ExportImage(ctx, img.Fingerprint, dir, report.bytes)
	if errors.Is(err, errdefs.ErrNotFound) {
		err = errdefs.Wrap(errdefs.ErrNotFound, err, "image %s not found on %s", ref, im.h.c.Addr())
	}
	if err != nil {
		return nil, err
	}
	report.done()
	fp, _, err := imagefile.Fingerprint(files...)
	if err == nil && fp != img.Fingerprint {
		err = errdefs.Wrap(errdefs.ErrInternal, nil, "exporting image %.12s from %s: the files written have fingerprint %.12s", img.Fingerprint, im.h.c.Addr(), fp)
	}
	if err != nil {
		for _, f := range files {
			os.Remove(f)
		}
		return nil, err
	}
	return files, nil
}

// ImportOptions says how to import an image from its files.
type ImportOptions struct {
	// Aliases are made (or moved) on the host.
	Aliases []string
	// Public and Properties (added to those of the image's metadata.yaml)
	// apply to an image the import makes, not to one the host has
	// already.
	Public     bool
	Properties map[string]string
	// Progress, if set, is called as the files are sent, with Bytes and
	// Total.
	Progress func(Progress)
}

// Import makes an image of files on this machine and returns its
// fingerprint: one unified tarball, or a split image's metadata file then
// its rootfs (as Export writes them, or `lxc image export`). An image the
// host has already is not sent again; its aliases are still set. Files
// that are not an image's are an error matching errdefs.ErrInvalidArgument,
// found before anything is sent when lxkit can read them.
func (im *Images) Import(ctx context.Context, files []string, opts ImportOptions) (string, error) {
	if err := checkImageFiles(ctx, files); err != nil {
		return "", err
	}
	for _, a := range opts.Aliases {
		if err := ValidateName("image alias", a); err != nil {
			return "", err
		}
	}
	filer, err := im.filer()
	if err != nil {
		return "", err
	}
	fp, size, err := imagefile.Fingerprint(files...)
	if err != nil {
		return "", err
	}
	if _, err := im.Resolve(ctx, fp); err == nil {
		return fp, im.moveAliases(ctx, fp, opts.Aliases)
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return "", err
	}
	report := byteReporter(opts.Progress, size)
	if err := filer.ImportImage(ctx, files, fp, report.bytes); err != nil {
		return "", fmt.Errorf("importing %s into %s: %w", describeFiles(files), im.h.c.Addr(), err)
	}
	report.done()
	if _, err := im.Resolve(ctx, fp); err != nil {
		return "", errdefs.Wrap(errdefs.ErrInternal, err, "importing %s: %s does not have image %.12s afterwards", describeFiles(files), im.h.c.Addr(), fp)
	}
	if opts.Public || len(opts.Properties) > 0 {
		err := im.Update(ctx, fp, func(put *api.ImagePut) error {
			put.Public = put.Public || opts.Public
			MergeConfig(&put.Properties, opts.Properties)
			return nil
		})
		if err != nil {
			return fp, err
		}
	}
	return fp, im.moveAliases(ctx, fp, opts.Aliases)
}

func describeFiles(files []string) string {
	if len(files) == 2 {
		return files[0] + " and " + files[1]
	}
	return files[0]
}

// checkImageFiles refuses what cannot be an image: not one or two regular
// files; a first file that is no tarball or has no metadata.yaml; a lone
// tarball without rootfs/ (a split image's metadata); a second file that
// is no tarball, squashfs or qcow2. A tarball lxkit cannot decompress (no
// xz command, say) is left for the daemon to judge.
func checkImageFiles(ctx context.Context, files []string) error {
	if len(files) != 1 && len(files) != 2 {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "an image is one file (a unified tarball) or two (metadata, then rootfs), not %d", len(files))
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not a regular file", f)
		}
	}
	md, err := imagefile.ReadMetadata(ctx, files[0])
	switch {
	case errors.Is(err, errdefs.ErrNotImplemented):
		format, ferr := imagefile.DetectFile(files[0])
		if ferr != nil {
			return ferr
		}
		if !format.IsArchive() {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not an image file: not a tarball", files[0])
		}
	case err != nil:
		return err
	case len(files) == 1 && !md.HasRootfs:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is a split image's metadata (no rootfs/ in it): give its rootfs file after it", files[0])
	}
	if len(files) == 2 {
		format, err := imagefile.DetectFile(files[1])
		if err != nil {
			return err
		}
		if !format.IsRootfs() {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not an image's rootfs: neither a tarball, squashfs nor qcow2", files[1])
		}
	}
	return nil
}

// reporter turns byte counts into Progress reports, at most ten a second
// (and the last one).
type reporter struct {
	fn    func(Progress)
	total int64
	mu    sync.Mutex
	last  time.Time
	n     int64
}

func byteReporter(fn func(Progress), total int64) *reporter { return &reporter{fn: fn, total: total} }

func (r *reporter) bytes(n int64) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n = n
	if now := time.Now(); now.Sub(r.last) >= 100*time.Millisecond {
		r.last = now
		r.fn(Progress{Text: r.text(), Bytes: n, Total: r.total})
	}
}

func (r *reporter) done() {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(Progress{Text: r.text(), Bytes: r.n, Total: r.total, Done: true})
}

func (r *reporter) text() string {
	if r.total <= 0 {
		return fmt.Sprintf("%d bytes", r.n)
	}
	return fmt.Sprintf("%d%% (%d of %d bytes)", min(100, r.n*100/r.total), r.n, r.total)
}
