package tarx

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ExtractOptions configures Extract.
type ExtractOptions struct {
	// Chown applies the uid/gid from the headers (only meaningful as root).
	// Zero value: files are owned by the current user.
	Chown bool
}

// Summary describes what Extract created.
type Summary struct {
	Files    int      // regular files and hard links
	Dirs     int      // directory entries
	Symlinks int      // symbolic links
	Bytes    int64    // file content written
	Skipped  []string // names of entries not extracted (devices, fifos, unknown types)
}

// Extract reads a tar stream from r and recreates its entries below dest,
// which must exist. Every filesystem operation goes through an os.Root, and:
//   - absolute names and names escaping dest through ".." are errors;
//   - no entry is written through a symlink: a symlink in the way of a
//     parent directory is an error, one at the entry's own name is replaced;
//   - hard-link targets must be regular files or symlinks inside dest;
//   - device nodes, fifos and unknown types are skipped and listed in Summary.Skipped;
//   - sparse files are errors (their holes could expand without bound);
//   - symlinks are recreated as they are (their targets are data, never followed).
//
// An existing file or empty directory at an entry's name is replaced; an
// existing directory is kept for a directory entry. Modes and mtimes are
// kept (except symlink mtimes); directory modes and mtimes are applied last.
func Extract(r io.Reader, dest string, opts ExtractOptions) (Summary, error) {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return Summary{}, fmt.Errorf("tarx: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root, opts: opts, dirs: map[string]*tar.Header{},
		known: map[string]bool{}, subroots: map[string]*os.Root{}, buf: make([]byte, 128<<10)}
	defer x.forgetDirs()
	// Buffered: tar reads headers in 512-byte pieces, and r is often a pipe.
	end := &trailer{r: bufio.NewReaderSize(r, 256<<10)}
	tr := tar.NewReader(end)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if !end.seen() {
				return x.sum, ErrTruncated
			}
			break
		}
		if err != nil {
			return x.sum, fmt.Errorf("tarx: reading archive: %w", err)
		}
		if err := x.entry(tr, hdr); err != nil {
			return x.sum, fmt.Errorf("tarx: entry %q: %w", hdr.Name, err)
		}
	}
	// Deepest first, so that a parent's mode cannot lock us out of its children.
	for _, name := range slices.Backward(slices.Sorted(maps.Keys(x.dirs))) {
		if err := x.finishDir(name, x.dirs[name]); err != nil {
			return x.sum, fmt.Errorf("tarx: entry %q: %w", x.dirs[name].Name, err)
		}
	}
	return x.sum, nil
}

var errSparse = errors.New("sparse files are not supported")

// ErrTruncated is returned by Extract for a stream that ends without tar's
// end-of-archive marker (two zero blocks): what it held was extracted, but
// the sender stopped early.
var ErrTruncated = errors.New("tarx: archive truncated (no end-of-archive marker)")

// trailer remembers the last 1024 bytes read through it, to tell a complete
// archive (which ends with two zero blocks) from a cut one.
type trailer struct {
	r    io.Reader
	last [1024]byte
	n    int // bytes of last in use
}

func (t *trailer) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= len(t.last) {
		copy(t.last[:], p[n-len(t.last):n])
		t.n = len(t.last)
	} else if n > 0 {
		keep := min(t.n, len(t.last)-n)
		copy(t.last[:keep], t.last[t.n-keep:t.n])
		copy(t.last[keep:], p[:n])
		t.n = keep + n
	}
	return n, err
}

func (t *trailer) seen() bool {
	if t.n < len(t.last) {
		return false
	}
	for _, b := range t.last {
		if b != 0 {
			return false
		}
	}
	return true
}

type extractor struct {
	root  *os.Root
	opts  ExtractOptions
	sum   Summary
	dirs  map[string]*tar.Header // directory entries, finished at the end
	known map[string]bool        // paths verified to be real directories
	// subroots are open handles on known directories, so that creating a
	// file there resolves one name instead of the whole path.
	subroots map[string]*os.Root
	buf      []byte
}

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := localName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeGNUSparse:
		return errSparse
	default:
		x.sum.Skipped = append(x.sum.Skipped, hdr.Name)
		return nil
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return errSparse // holes could expand a small stream into a huge file
		}
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return nil // "./": dest itself, left alone
		}
		return errors.New("invalid name")
	}
	if err := x.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(name, hdr)
	case tar.TypeSymlink:
		return x.symlink(name, hdr)
	case tar.TypeLink:
		return x.hardlink(name, hdr)
	default:
		return x.file(tr, name, hdr)
	}
}

// localName cleans an entry name into a slash-separated path inside dest
// ("." for dest itself).
func localName(name string) (string, error) {
	if len(name) > 4096 {
		return "", errors.New("name too long")
	}
	clean := path.Clean(name)
	if path.IsAbs(name) || (clean != "." && !filepath.IsLocal(filepath.FromSlash(clean))) {
		return "", errors.New("path is absolute or escapes the destination")
	}
	return clean, nil
}

// mkdirs makes sure dir and its parents are real directories (never
// symlinks), creating missing ones.
func (x *extractor) mkdirs(dir string) error {
	if dir == "." || x.known[dir] {
		return nil
	}
	if err := x.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	fi, err := x.root.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = x.root.Mkdir(dir, 0o755)
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		err = fmt.Errorf("%s is a symlink, which is never followed", dir)
	case err == nil && !fi.IsDir():
		err = fmt.Errorf("%s is not a directory", dir)
	}
	if err != nil {
		return err
	}
	x.known[dir] = true
	return nil
}

// makeRoom removes what is at name (a file, a symlink itself, or an empty
// directory) unless keepDir is set and it is a directory. It returns the
// kept directory's info, or nil.
func (x *extractor) makeRoom(name string, keepDir bool) (fs.FileInfo, error) {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if keepDir {
			return fi, nil
		}
		x.forgetDirs()
		delete(x.dirs, name)
	}
	return nil, x.root.Remove(name)
}

func (x *extractor) dir(name string, hdr *tar.Header) error {
	fi, err := x.makeRoom(name, true)
	switch {
	case err != nil:
		return err
	case fi == nil:
		err = x.root.Mkdir(name, 0o700)
	case fi.Mode().Perm()&0o700 != 0o700:
		err = x.root.Chmod(name, fi.Mode().Perm()|0o700) // writable until finishDir
	}
	if err != nil {
		return err
	}
	x.known[name] = true
	x.dirs[name] = hdr
	x.sum.Dirs++
	return nil
}

func (x *extractor) finishDir(name string, hdr *tar.Header) error {
	fi, err := x.root.Lstat(name)
	if err != nil || !fi.IsDir() {
		return nil // replaced by a later entry
	}
	if x.opts.Chown {
		if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if err := x.root.Chmod(name, mode(hdr)); err != nil {
		return err
	}
	return x.root.Chtimes(name, time.Time{}, hdr.ModTime)
}

// forgetDirs drops what is known of directories, after one was replaced.
func (x *extractor) forgetDirs() {
	clear(x.known)
	for _, r := range x.subroots {
		r.Close()
	}
	clear(x.subroots)
}

// dirRoot returns a handle on dir, a directory mkdirs has verified.
func (x *extractor) dirRoot(dir string) (*os.Root, error) {
	if dir == "." {
		return x.root, nil
	}
	if r, ok := x.subroots[dir]; ok {
		return r, nil
	}
	r, err := x.root.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	x.subroots[dir] = r
	return r, nil
}

func (x *extractor) file(r io.Reader, name string, hdr *tar.Header) error {
	// O_EXCL: never open through a symlink or into an existing hard link.
	// Whatever is in the way is removed first (rarely: dest is usually new).
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	dir, err := x.dirRoot(path.Dir(name))
	if err != nil {
		return err
	}
	f, err := dir.OpenFile(path.Base(name), flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if _, err = x.makeRoom(name, false); err != nil {
			return err
		}
		f, err = dir.OpenFile(path.Base(name), flags, 0o600)
	}
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{r}, x.buf)
	x.sum.Bytes += n
	if err == nil && x.opts.Chown {
		err = f.Chown(hdr.Uid, hdr.Gid)
	}
	if err == nil {
		err = f.Chmod(mode(hdr))
	}
	if err == nil {
		// Through the open file: no second walk of the path.
		now := time.Now()
		err = unix.Futimes(int(f.Fd()), []unix.Timeval{unix.NsecToTimeval(now.UnixNano()), unix.NsecToTimeval(hdr.ModTime.UnixNano())})
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		x.sum.Files++
	}
	return err
}

func (x *extractor) symlink(name string, hdr *tar.Header) error {
	if _, err := x.makeRoom(name, false); err != nil {
		return err
	}
	if err := x.root.Symlink(hdr.Linkname, name); err != nil {
		return err
	}
	if x.opts.Chown {
		if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	x.sum.Symlinks++
	return nil
}

func (x *extractor) hardlink(name string, hdr *tar.Header) error {
	target, err := localName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	fi, err := x.root.Lstat(target) // os.Root keeps this inside dest
	if err != nil {
		return fmt.Errorf("hard link target: %w", err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("hard link target %q is not a file", hdr.Linkname)
	}
	if target == name {
		return nil
	}
	if _, err := x.makeRoom(name, false); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return err
	}
	x.sum.Files++
	return nil
}

// mode returns the permission, setuid, setgid and sticky bits of hdr.
func mode(hdr *tar.Header) fs.FileMode {
	return hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
