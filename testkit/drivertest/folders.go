package drivertest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// makeTree builds a folder with the things a copy must keep: modes,
// symlinks (relative and absolute), empty and nested directories.
func makeTree(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{"a.txt": "alpha", "sub/deep/b.txt": "beta", "run.sh": "#!/bin/sh\necho hi\n", "sp ace/ü.txt": "unicode"}
	for p, c := range files {
		full := filepath.Join(root, p)
		must(t, "mkdir", os.MkdirAll(filepath.Dir(full), 0o755))
		must(t, "write", os.WriteFile(full, []byte(c), 0o644))
	}
	must(t, "chmod", os.Chmod(filepath.Join(root, "run.sh"), 0o755))
	must(t, "mkdir", os.Mkdir(filepath.Join(root, "empty"), 0o700))
	must(t, "symlink", os.Symlink("a.txt", filepath.Join(root, "link")))
	must(t, "symlink", os.Symlink("/etc/hostname", filepath.Join(root, "abslink")))
}

// describe lists a local tree as "path mode [-> target|content]" lines.
func describe(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, _ := d.Info()
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			line += " " + string(data)
		}
		lines = append(lines, line)
		return nil
	})
	must(t, "walk", err)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func testFolders(t *testing.T, d driver.Driver) {
	name := launch(t, d, "fold")
	tr := d.Transport(name)
	ctx := testhost.Context(t, patience)

	src := filepath.Join(t.TempDir(), "site")
	makeTree(t, src)
	want := describe(t, src)

	roundTrip := func(t *testing.T, tr transport.Transport, remoteDir string) {
		t.Helper()
		must(t, "mkdir", mkdirRemote(t, tr, remoteDir))
		must(t, "upload folder", transport.UploadFolder(ctx, tr, src, remoteDir))
		out, err := transport.Run(ctx, tr, "readlink", remoteDir+"/site/link")
		if err != nil || out != "a.txt\n" {
			t.Errorf("remote symlink: %q %v", out, err)
		}
		if s := stat(t, tr, remoteDir+"/site/run.sh"); !strings.HasPrefix(s, "755 ") {
			t.Errorf("remote run.sh: %s", s)
		}
		if s := stat(t, tr, remoteDir+"/site/empty"); !strings.HasPrefix(s, "700 ") {
			t.Errorf("remote empty dir: %s", s)
		}
		dest := t.TempDir()
		sum, err := transport.DownloadFolder(ctx, tr, remoteDir+"/site", dest)
		must(t, "download folder", err)
		if got := describe(t, filepath.Join(dest, "site")); got != want {
			t.Errorf("round trip differs:\n got: %s\nwant: %s", got, want)
		}
		if sum.Files != 4 || sum.Symlinks != 2 {
			t.Errorf("summary %+v; want 4 files and 2 symlinks", sum)
		}
	}

	t.Run("Tar", func(t *testing.T) { roundTrip(t, tr, "/srv") })
	t.Run("AsUser", func(t *testing.T) {
		as, err := transport.As(tr, "lxkit", "")
		must(t, "as", err)
		roundTrip(t, as, "/home/lxkit/up")
		if s := stat(t, tr, "/home/lxkit/up/site/sub/deep/b.txt"); s != "644 1000 1000" {
			t.Errorf("file uploaded as lxkit: %s", s)
		}
	})
	t.Run("Hostile", func(t *testing.T) { testHostileDownload(t, d, tr) })
	t.Run("WithoutTar", func(t *testing.T) {
		// The last subtest: it removes tar from the container.
		if _, err := transport.Run(ctx, tr, "rm", "/bin/tar"); err != nil {
			t.Fatal(err)
		}
		if _, err := transport.Run(ctx, tr, "tar", "--help"); err == nil {
			t.Fatal("tar still there")
		}
		roundTrip(t, tr, "/opt")
	})
}

func mkdirRemote(t *testing.T, tr transport.Transport, dir string) error {
	_, err := transport.Run(testhost.Context(t, patience), tr, "mkdir", "-p", dir)
	return err
}

// testHostileDownload replaces tar in the container with a script that
// sends a crafted archive: nothing may land outside the destination.
func testHostileDownload(t *testing.T, d driver.Driver, tr transport.Transport) {
	ctx := testhost.Context(t, patience)
	archives := map[string][]*tar.Header{
		"absolute": {{Name: "/tmp/lxkit-pwned", Typeflag: tar.TypeReg, Mode: 0o644}},
		"dotdot":   {{Name: "x/../../lxkit-pwned", Typeflag: tar.TypeReg, Mode: 0o644}},
		"symlink-then-write": {
			{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "x/out", Typeflag: tar.TypeSymlink, Linkname: "../.."},
			{Name: "x/out/lxkit-pwned", Typeflag: tar.TypeReg, Mode: 0o644},
		},
		"hardlink-out": {{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../../etc/passwd"}},
		"device":       {{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "x/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}},
	}
	for label, hdrs := range archives {
		t.Run(label, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range hdrs {
				if h.Typeflag == tar.TypeReg {
					h.Size = 5
				}
				must(t, "header", tw.WriteHeader(h))
				if h.Typeflag == tar.TypeReg {
					_, _ = tw.Write([]byte("pwned"))
				}
			}
			must(t, "close", tw.Close())
			must(t, "push archive", transport.WriteBytes(ctx, tr, "/root/evil-"+label+".tar", buf.Bytes(), transport.FileOptions{}))
			must(t, "mkdir", mkdirRemote(t, tr, "/usr/local/bin"))
			// A fake tar that sends the crafted archive whatever it is asked.
			must(t, "fake tar", transport.WriteBytes(ctx, tr, "/usr/local/bin/tar",
				[]byte("#!/bin/sh\ncat /root/evil-"+label+".tar\n"), transport.FileOptions{Mode: 0o755}))
			t.Cleanup(func() { _, _ = transport.Run(ctx, tr, "rm", "-f", "/usr/local/bin/tar") })

			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			must(t, "mkdir", os.Mkdir(dest, 0o755))
			sum, err := transport.DownloadFolder(ctx, tr, "/srv/site", dest)
			if label == "device" {
				if err != nil || len(sum.Skipped) != 1 {
					t.Errorf("device entry: err %v, skipped %v; want it skipped", err, sum.Skipped)
				}
			} else if err == nil {
				t.Errorf("hostile archive %s accepted", label)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 1 {
				t.Errorf("something was written beside the destination: %v", entries)
			}
			if _, err := os.Lstat("/tmp/lxkit-pwned"); err == nil {
				t.Errorf("the archive wrote /tmp/lxkit-pwned")
				os.Remove("/tmp/lxkit-pwned")
			}
		})
	}
}
