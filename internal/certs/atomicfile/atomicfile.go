// Package atomicfile writes files so that a reader sees either the old
// content or the new, never a part, and a secret is never readable by
// others on the way: the data goes to a temporary file created with mode
// 0600 (O_EXCL) in the target's directory, which is then given its final
// mode and renamed (or linked) into place.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, with permissions perm. The directory must
// exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, true)
}

// Create writes data to path, with permissions perm, only if path does not
// exist yet; otherwise it returns an error matching fs.ErrExist and leaves
// path alone. The check and the creation are one step (a hard link), so two
// writers cannot both succeed.
func Create(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm fs.FileMode, replace bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp opens with O_EXCL and mode 0600, so a key is never
	// readable by others, not even for an instant.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// Chmod, not the umask-filtered creation mode, decides the final mode;
	// it only ever widens 0600 (a certificate's 0644).
	if err = f.Chmod(perm.Perm()); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = link(tmp, path)
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// link puts tmp at path unless path exists, then removes tmp.
func link(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		os.Remove(tmp) // path holds the data now; a leftover link is only clutter
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	// A file system without hard links: check, then rename. Not atomic
	// against another writer, but never overwrites a file that was there
	// before the check.
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	return os.Rename(tmp, path)
}

// syncDir makes a rename durable. Best effort: some file systems refuse to
// sync a directory, and the rename itself has already succeeded.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
