package smallfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(ok, 5); err != nil || string(b) != "12345" {
		t.Errorf("Read(5 bytes, max 5) = %q, %v", b, err)
	}
	if _, err := Read(ok, 4); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("Read(5 bytes, max 4): %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// No writer: a blocking open would wait for one forever.
	for _, p := range []string{dir, fifo, "/dev/zero"} {
		if _, err := Read(p, 5); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Read(%s): %v", p, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing"), 5); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read(missing): %v", err)
	}
}
