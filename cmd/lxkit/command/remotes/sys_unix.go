//go:build unix

package remotes

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile serializes changes to lxkit's configuration between processes.
const lockFile = ".config.yml.lock"

// lockDir takes an exclusive lock on dir's lock file and returns its
// release.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// writable reports whether this process may write to path.
func writable(path string) bool {
	return unix.Access(path, unix.W_OK) == nil
}
