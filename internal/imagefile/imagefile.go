// Package imagefile knows the files LXD and Incus images are made of: a
// unified tarball (metadata.yaml, templates/ and rootfs/ in one archive),
// or a split image (a metadata tarball and a separate rootfs: a tarball,
// squashfs or, for a virtual machine, a qcow2 disk). It tells their formats
// apart, reads their metadata.yaml, computes their fingerprint as the
// daemons do, and saves downloaded files without letting a name escape
// the destination.
package imagefile

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lxkit/lxkit/errdefs"
	"go.yaml.in/yaml/v3"
)

// Format is what a file is, as its first bytes say.
type Format string

// Formats. Unknown is anything else.
const (
	Unknown  Format = ""
	Tar      Format = "tar"
	Gzip     Format = "gzip"
	Bzip2    Format = "bzip2"
	Xz       Format = "xz"
	Lzma     Format = "lzma"
	Zstd     Format = "zstd"
	Squashfs Format = "squashfs"
	Qcow2    Format = "qcow2"
)

// HeaderSize is how many leading bytes Detect needs to tell every format
// apart (a plain tar's magic sits at offset 257).
const HeaderSize = 512

// Detect returns the format that header, a file's first bytes, shows.
func Detect(header []byte) Format {
	has := func(magic string) bool { return bytes.HasPrefix(header, []byte(magic)) }
	switch {
	case has("\x1f\x8b"):
		return Gzip
	case has("BZh"):
		return Bzip2
	case has("\xfd7zXZ\x00"):
		return Xz
	case has("\x28\xb5\x2f\xfd"):
		return Zstd
	case has("hsqs"):
		return Squashfs
	case has("QFI\xfb"):
		return Qcow2
	case has("\x5d\x00\x00"):
		return Lzma
	case len(header) >= 262 && string(header[257:262]) == "ustar":
		return Tar
	}
	return Unknown
}

// DetectFile returns the format of the file at path.
func DetectFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return Unknown, err
	}
	defer f.Close()
	return DetectReader(f)
}

// DetectReader returns the format of what r holds, reading its first
// HeaderSize bytes.
func DetectReader(r io.Reader) (Format, error) {
	buf := make([]byte, HeaderSize)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Unknown, err
	}
	return Detect(buf[:n]), nil
}

// IsArchive reports whether f is a tarball, compressed or not: what a
// unified image or a metadata file is.
func (f Format) IsArchive() bool {
	switch f {
	case Tar, Gzip, Bzip2, Xz, Lzma, Zstd:
		return true
	}
	return false
}

// IsRootfs reports whether f can be a split image's rootfs.
func (f Format) IsRootfs() bool { return f.IsArchive() || f == Squashfs || f == Qcow2 }

// Metadata is an image's metadata.yaml.
type Metadata struct {
	Architecture string            `yaml:"architecture"`
	CreationDate int64             `yaml:"creation_date"`
	ExpiryDate   int64             `yaml:"expiry_date"`
	Properties   map[string]string `yaml:"properties"`
	// HasRootfs is set when the tarball holds rootfs/ as well: a unified
	// image rather than a split image's metadata.
	HasRootfs bool `yaml:"-"`
}

// Created returns the creation date, or the zero time when unset.
func (m *Metadata) Created() time.Time {
	if m.CreationDate <= 0 {
		return time.Time{}
	}
	return time.Unix(m.CreationDate, 0).UTC()
}

// maxMetadata bounds metadata.yaml: a real one is a few KiB.
const maxMetadata = 1 << 20

// ReadMetadata reads metadata.yaml from the tarball at path (a unified
// image or a split image's metadata file), and looks on for rootfs/ until
// it finds it (next to metadata.yaml, in a unified image) or the end. Tarballs the Go standard library
// cannot decompress (xz, lzma, zstd) go through the system's xz or zstd
// command. A file that is not a tarball, or one without metadata.yaml,
// is an error matching errdefs.ErrInvalidArgument.
func ReadMetadata(ctx context.Context, path string) (*Metadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadMetadataFrom(ctx, f, filepath.Base(path))
}

// ReadMetadataFrom is ReadMetadata for an open file, read from its start;
// name is for messages.
func ReadMetadataFrom(ctx context.Context, f *os.File, name string) (*Metadata, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	format, err := DetectReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if !format.IsArchive() {
		return nil, notImage(name, format)
	}
	rd, done, err := decompress(ctx, f, format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	md, err := findMetadata(rd, name)
	if derr := done(err == nil); derr != nil {
		// The decompressor's failure is the cause of the reader's.
		return nil, fmt.Errorf("%s: %w", name, derr)
	}
	return md, err
}

func notImage(name string, f Format) error {
	what := "not a tarball"
	if f != Unknown {
		what = "a " + string(f) + " file, not a tarball"
	}
	return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not an image file: %s", name, what)
}

// decompress returns the tarball in f, uncompressed. done ends the
// decompressor: with stop, at once (the reader had what it needed), else
// after the rest of its output, returning its failure if it failed.
func decompress(ctx context.Context, f *os.File, format Format) (r io.Reader, done func(stop bool) error, err error) {
	none := func(bool) error { return nil }
	switch format {
	case Tar:
		return f, none, nil
	case Gzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "bad gzip data")
		}
		return zr, none, nil
	case Bzip2:
		return bzip2.NewReader(f), none, nil
	}
	args := map[Format][]string{Xz: {"xz", "-dc"}, Lzma: {"xz", "--format=lzma", "-dc"}, Zstd: {"zstd", "-dcq"}}[format]
	if _, err := exec.LookPath(args[0]); err != nil {
		return nil, nil, errdefs.Wrap(errdefs.ErrNotImplemented, nil, "reading a %s tarball needs the %s command, which is not installed", format, args[0])
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, nil, err
	}
	done = func(stop bool) error {
		defer cancel()
		if stop {
			cancel()
			_ = cmd.Wait()
			return nil
		}
		_, _ = io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if msg := strings.TrimSpace(stderr.String()); msg != "" {
				return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: %s", args[0], msg)
			}
			return fmt.Errorf("%s: %w", args[0], err)
		}
		return nil
	}
	return out, done, nil
}

func findMetadata(r io.Reader, name string) (*Metadata, error) {
	tr := tar.NewReader(r)
	var md *Metadata
	rootfs := false // seen before metadata.yaml
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if md == nil {
				return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s is not an image file: a tarball without metadata.yaml", name)
			}
			return md, nil
		}
		if err != nil {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "%s is not an image file: reading it as a tarball", name)
		}
		entry := strings.TrimPrefix(hdr.Name, "./")
		if entry == "rootfs" || strings.HasPrefix(entry, "rootfs/") {
			if md != nil {
				md.HasRootfs = true
				return md, nil
			}
			rootfs = true
			continue
		}
		if entry != "metadata.yaml" || hdr.Typeflag != tar.TypeReg || md != nil {
			continue
		}
		if hdr.Size > maxMetadata {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: metadata.yaml is %d bytes, more than an image's can be", name, hdr.Size)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: reading metadata.yaml: %w", name, err)
		}
		md = &Metadata{}
		if err := yaml.Unmarshal(data, md); err != nil {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "%s: bad metadata.yaml", name)
		}
		if md.Architecture == "" {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "%s: metadata.yaml names no architecture", name)
		}
		if rootfs {
			md.HasRootfs = true
			return md, nil
		}
	}
}

// Fingerprint returns an image's fingerprint as the daemons compute it,
// the SHA-256 of its files one after the other (the unified tarball; or
// the metadata file, then the rootfs), and their total size.
func Fingerprint(paths ...string) (fingerprint string, size int64, err error) {
	h := sha256.New()
	for _, p := range paths {
		n, err := hashFile(h, p)
		if err != nil {
			return "", 0, err
		}
		size += n
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

func hashFile(w io.Writer, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}

// SafeName returns the last element of name if it can be a file name in a
// directory of ours: not empty, not "." or "..", no control characters,
// valid UTF-8 and at most 255 bytes. ok is false otherwise.
func SafeName(name string) (string, bool) {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return "", false
		}
	}
	return name, true
}

// Save writes what r holds to dir/name, through a temporary file that is
// renamed into place at the end, so that a failed download leaves no part
// of a file and a symlink at dir/name is replaced, never followed. name
// must be a SafeName. It returns the path and the bytes written.
func Save(dir, name string, r io.Reader) (path string, n int64, err error) {
	if safe, ok := SafeName(name); !ok || safe != name {
		return "", 0, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "refusing to write a file named %q", name)
	}
	tmp, err := os.CreateTemp(dir, ".lxkit-"+name+"-*")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n, err = io.Copy(tmp, r); err != nil {
		return "", n, err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return "", n, err
	}
	if err = tmp.Close(); err != nil {
		return "", n, err
	}
	path = filepath.Join(dir, name)
	if err = os.Rename(tmp.Name(), path); err != nil {
		return "", n, err
	}
	return path, n, nil
}

// Stem is a file name without the extension of an image file (".tar.xz",
// ".squashfs", ...) and without the "meta-" prefix of a split image's
// metadata, which `lxc image export` names meta-FINGERPRINT.EXT next to
// FINGERPRINT.EXT. isMeta says whether the prefix was there.
func Stem(name string) (stem string, isMeta bool) {
	stem, isMeta = strings.CutPrefix(name, "meta-")
	for _, ext := range []string{".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar.lzma", ".tar", ".tgz", ".txz",
		".squashfs", ".sqfs", ".qcow2", ".img", ".gz", ".xz", ".bz2", ".zst", ".lzma"} {
		if s, ok := strings.CutSuffix(stem, ext); ok && s != "" {
			return s, isMeta
		}
	}
	return stem, isMeta
}
