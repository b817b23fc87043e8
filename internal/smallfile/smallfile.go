// Package smallfile reads configuration files: regular files only, so
// that a path naming a device or a pipe (/dev/zero, a FIFO) cannot hang
// the read, and of bounded size.
package smallfile

import (
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/lxkit/lxkit/errdefs"
)

// Read reads path if it is a regular file of at most max bytes. Those
// that are not are errors matching errdefs.ErrInvalidArgument that do
// not name the path (callers do); the os errors name it themselves. A
// FIFO is refused at once, writer or not: it is opened without blocking.
func Read(path string, max int64) ([]byte, error) { return ReadChecked(path, max, nil) }

// ReadChecked is Read, with check (when not nil) run on the open file's
// information before a byte is read: a check of the file itself, not of
// whatever the path names a moment earlier or later.
func ReadChecked(path string, max int64, check func(fs.FileInfo) error) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "not a regular file")
	}
	if fi.Size() > max {
		return nil, tooLarge(max)
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	return b, err
}

func tooLarge(max int64) error {
	return errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "larger than %d bytes", max)
}
