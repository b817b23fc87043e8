package drivertest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// stat returns "mode uid gid" of a path in the container.
func stat(t *testing.T, tr transport.Transport, p string) string {
	t.Helper()
	out, err := transport.Run(testhost.Context(t, patience), tr, "stat", "-c", "%a %u %g", p)
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return strings.TrimSpace(out)
}

func testFiles(t *testing.T, d driver.Driver) {
	name := launch(t, d, "files")
	tr := d.Transport(name)
	ctx := testhost.Context(t, patience)

	must(t, "write", transport.WriteBytes(ctx, tr, "/root/hello.txt", []byte("hello\x00world\n"), transport.FileOptions{}))
	got, err := transport.ReadAll(ctx, tr, "/root/hello.txt")
	if err != nil || string(got) != "hello\x00world\n" {
		t.Errorf("read back %q, %v", got, err)
	}
	if s := stat(t, tr, "/root/hello.txt"); s != "644 0 0" {
		t.Errorf("default mode and owner: %s; want 644 0 0", s)
	}
	must(t, "write with owner", transport.WriteBytes(ctx, tr, "/tmp/owned", []byte("x"),
		transport.FileOptions{Mode: 0o600, UID: transport.Int(1000), GID: transport.Int(1000)}))
	if s := stat(t, tr, "/tmp/owned"); s != "600 1000 1000" {
		t.Errorf("explicit mode and owner: %s", s)
	}
	// Overwrite replaces, never appends.
	must(t, "overwrite", transport.WriteBytes(ctx, tr, "/root/hello.txt", []byte("bye"), transport.FileOptions{}))
	if got, _ := transport.ReadAll(ctx, tr, "/root/hello.txt"); string(got) != "bye" {
		t.Errorf("after overwrite: %q", got)
	}
	if _, err := transport.ReadAll(ctx, tr, "/no/such/file"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("read missing: %v; want ErrNotFound", err)
	}
	if _, err := transport.ReadAll(ctx, tr, "/etc"); err == nil {
		t.Errorf("reading a directory as a file succeeded")
	}
	// A symlink reads as what it points to, as open(2) does.
	if _, err := transport.Run(ctx, tr, "sh", "-c", "mkdir /root/d && echo target > /root/d/t && ln -s /root/d/t /root/abs && "+
		"ln -s d/t /root/rel && ln -s rel /root/chain && ln -s ../chain /root/d/up && ln -s loop1 /root/loop2 && ln -s loop2 /root/loop1"); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"/root/abs", "/root/rel", "/root/chain", "/root/d/up"} {
		if got, err := transport.ReadAll(ctx, tr, link); err != nil || string(got) != "target\n" {
			t.Errorf("read %s: %q, %v; want the target's content", link, got, err)
		}
	}
	if _, err := transport.ReadAll(ctx, tr, "/root/loop1"); err == nil {
		t.Errorf("reading a symlink loop succeeded")
	}
	if err := transport.WriteBytes(ctx, tr, "/no/such/dir/file", []byte("x"), transport.FileOptions{}); err == nil {
		t.Errorf("writing into a missing directory succeeded")
	}

	// Whole files, streamed both ways, keep content and mode.
	dir := t.TempDir()
	src := filepath.Join(dir, "blob")
	data := make([]byte, 24<<20+123)
	_, _ = rand.Read(data)
	must(t, "local write", os.WriteFile(src, data, 0o750))
	must(t, "upload", transport.UploadFile(ctx, tr, src, "/root/blob", transport.FileOptions{}))
	if s := stat(t, tr, "/root/blob"); s != "750 0 0" {
		t.Errorf("uploaded file: %s; want 750 0 0", s)
	}
	dst := filepath.Join(dir, "back")
	must(t, "download", transport.DownloadFile(ctx, tr, "/root/blob", dst))
	back, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("download differs (%d bytes, %v)", len(back), err)
	}
	if err := transport.DownloadFile(ctx, tr, "/no/such", filepath.Join(dir, "missing")); err == nil {
		t.Errorf("download of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("a failed download left a file behind")
	}

	// A transport acting as a user runs as them and writes files they own.
	as, err := transport.As(tr, "lxkit", "")
	must(t, "as", err)
	must(t, "write as user", transport.WriteBytes(ctx, as, "/home/lxkit/mine", []byte("x"), transport.FileOptions{}))
	if s := stat(t, tr, "/home/lxkit/mine"); s != "644 1000 1000" {
		t.Errorf("file written as lxkit: %s", s)
	}
	if out, err := transport.Run(ctx, as, "id", "-un"); err != nil || out != "lxkit\n" {
		t.Errorf("id as lxkit: %q %v", out, err)
	}
	if res, err := as.Exec(ctx, transport.Command{Args: []string{"touch", "/root/nope"}}); err != nil || res.ExitCode == 0 {
		t.Errorf("lxkit could write to /root: %v %v", res, err)
	}
}
