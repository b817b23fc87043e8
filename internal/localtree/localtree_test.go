package localtree

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWalk(t *testing.T) {
	root := filepath.Join(t.TempDir(), "site")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub"), 0o750))
	must(os.WriteFile(filepath.Join(root, "sub", "a"), []byte("a"), 0o640))
	must(os.Chmod(filepath.Join(root, "sub", "a"), os.ModeSetuid|0o755))
	must(os.Symlink("sub/a", filepath.Join(root, "link")))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	var got []string
	err := Walk(root, "/srv", func(e Entry) error {
		got = append(got, e.Remote+" "+[]string{"dir", "symlink", "file"}[e.Kind]+" "+e.Mode.String()+" "+e.Target)
		return nil
	})
	must(err)
	want := []string{
		"/srv/site dir -rwxr-x--- ",
		"/srv/site/link symlink -rwxrwxrwx sub/a",
		"/srv/site/sub dir -rwxr-x--- ",
		"/srv/site/sub/a file urwxr-xr-x ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("walk:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
