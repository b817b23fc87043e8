//go:build unix

package tarx

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

var baseTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// makeTree creates a test tree at dir covering modes, links, empty and
// read-only directories, long and unusual names, and a fifo.
func makeTree(t testing.TB, dir string) {
	t.Helper()
	long := strings.Repeat("d", 90) + "/" + strings.Repeat("e", 90) + "/" + strings.Repeat("f", 90)
	dirs := map[string]os.FileMode{
		"":                       0o755,
		"empty":                  0o700,
		"sub":                    0o750,
		"sub/deeper":             0o755,
		"ro":                     0o555,
		"sticky":                 0o777 | os.ModeSticky,
		long:                     0o755,
		"spa ce/ünï":             0o755,
		"emptyparent":            0o755,
		"emptyparent/emptychild": 0o711,
	}
	files := map[string]struct {
		mode os.FileMode
		data string
	}{
		"a.txt":                               {0o644, "hello\n"},
		"exec.sh":                             {0o755, "#!/bin/sh\necho hi\n"},
		"private":                             {0o600, "secret"},
		"readonly":                            {0o444, "ro"},
		"suid":                                {0o755 | os.ModeSetuid, "s"},
		"sgid":                                {0o755 | os.ModeSetgid, "g"},
		"emptyfile":                           {0o644, ""},
		"sub/b.bin":                           {0o640, string(randBytes(1<<20 + 7))},
		"sub/deeper/c":                        {0o644, "c"},
		"ro/inside":                           {0o644, "in a read-only dir"},
		"sticky/f":                            {0o666, "f"},
		long + "/" + strings.Repeat("g", 120): {0o644, "long name"},
		"spa ce/ünï/fïlé name":                {0o644, "unicode"},
	}
	for _, name := range sortedKeys(dirs) {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(p, 0o755))
	}
	for name, f := range files {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(f.data), 0o600))
		must(t, os.Chmod(p, f.mode))
	}
	must(t, os.Symlink("a.txt", filepath.Join(dir, "link-rel")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link-abs")))
	must(t, os.Symlink("../../nowhere", filepath.Join(dir, "sub/link-dangling")))
	must(t, os.Symlink("sub", filepath.Join(dir, "link-dir")))
	must(t, os.Link(filepath.Join(dir, "a.txt"), filepath.Join(dir, "hardlink")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	// mtimes: files first, then directories deepest first.
	i := 0
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Type()&fs.ModeSymlink == 0 {
			i++
			err = os.Chtimes(p, baseTime, baseTime.Add(time.Duration(i)*time.Hour))
		}
		return err
	}))
	names := sortedKeys(dirs)
	for j := len(names) - 1; j >= 0; j-- {
		p := filepath.Join(dir, names[j])
		must(t, os.Chmod(p, dirs[names[j]]))
		must(t, os.Chtimes(p, baseTime, baseTime.Add(time.Duration(j+100)*time.Minute)))
	}
}

// snapshot describes every entry below dir: type and mode bits, mtime (not
// for symlinks; for directories only when dirTimes), contents or link target.
func snapshot(t testing.TB, dir string, dirTimes bool) map[string]string {
	t.Helper()
	m := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			s += " -> " + target
		case fi.IsDir():
			if dirTimes {
				s += " " + fi.ModTime().UTC().Format(time.DateTime)
			}
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += fmt.Sprintf(" %s %x", fi.ModTime().UTC().Format(time.DateTime), sha256.Sum256(data))
		}
		m[filepath.ToSlash(rel)] = s
		return nil
	}))
	return m
}

func compareTrees(t testing.TB, want, got map[string]string) {
	t.Helper()
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			t.Errorf("%s:\n\twant %q\n\tgot  %q", k, want[k], got[k])
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected entry %q", k, got[k])
		}
	}
}

// entry is one member of a hand-built archive.
type entry struct {
	name, link string
	typ        byte
	mode       int64
	body       string
	pax        map[string]string
}

func buildTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Size: int64(len(e.body)), ModTime: baseTime, PAXRecords: e.pax}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		must(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(e.body))
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// tarNames lists the entry names of an archive.
func tarNames(t testing.TB, data []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
	}
	return names
}

func run(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

// makeRemovable gives the owner full access to every directory below dir,
// so that t.TempDir cleanup also works for non-root users.
func makeRemovable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

func randBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
