package imagefile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/errdefs"
)

func TestDetect(t *testing.T) {
	ustar := make([]byte, 512)
	copy(ustar[257:], "ustar")
	for _, c := range []struct {
		header []byte
		want   Format
	}{
		{[]byte("\x1f\x8b\x08rest"), Gzip},
		{[]byte("BZh91AY"), Bzip2},
		{[]byte("\xfd7zXZ\x00\x00"), Xz},
		{[]byte("\x28\xb5\x2f\xfd"), Zstd},
		{[]byte("hsqs...."), Squashfs},
		{[]byte("QFI\xfb\x00"), Qcow2},
		{[]byte("\x5d\x00\x00\x80\x00"), Lzma},
		{ustar, Tar},
		{[]byte("ustar"), Unknown},
		{[]byte("hello world"), Unknown},
		{nil, Unknown},
	} {
		if got := Detect(c.header); got != c.want {
			t.Errorf("Detect(%q) = %q, want %q", c.header[:min(8, len(c.header))], got, c.want)
		}
	}
}

func tarOf(t *testing.T, names ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		data := ""
		if n == "metadata.yaml" || n == "./metadata.yaml" {
			data = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: busybox\n"
		}
		typ := byte(tar.TypeReg)
		if strings.HasSuffix(n, "/") {
			typ = tar.TypeDir
		}
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: typ, Mode: 0o644, Size: int64(len(data))})
		tw.Write([]byte(data))
	}
	tw.Close()
	return buf.Bytes()
}

func gz(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func TestReadMetadata(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unified := tarOf(t, "metadata.yaml", "templates/", "rootfs/", "rootfs/bin/")
	type tc struct {
		name   string
		data   []byte
		rootfs bool
		class  error
	}
	cases := []tc{
		{"plain.tar", unified, true, nil},
		{"rootfs-first.tar", tarOf(t, "rootfs/", "rootfs/x", "./metadata.yaml"), true, nil},
		{"unified.tar.gz", gz(unified), true, nil},
		{"meta.tar.gz", gz(tarOf(t, "metadata.yaml", "templates/")), false, nil},
		{"nometa.tar.gz", gz(tarOf(t, "rootfs/", "etc/")), false, errdefs.ErrInvalidArgument},
		{"junk", []byte("not a tarball at all"), false, errdefs.ErrInvalidArgument},
		{"badgz.tar.gz", []byte("\x1f\x8b\x08\x00junk"), false, errdefs.ErrInvalidArgument},
		{"squash", append([]byte("hsqs"), make([]byte, 100)...), false, errdefs.ErrInvalidArgument},
	}
	if _, err := exec.LookPath("xz"); err == nil {
		out, err := exec.Command("sh", "-c", "xz -c <"+write("tmp.tar", unified)).Output()
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{"unified.tar.xz", out, true, nil},
			tc{"corrupt.tar.xz", append(out[:len(out)/2:len(out)/2], make([]byte, 64)...), false, errdefs.ErrInvalidArgument})
	}
	for _, c := range cases {
		md, err := ReadMetadata(context.Background(), write(c.name, c.data))
		if c.class != nil {
			if !errors.Is(err, c.class) || !strings.Contains(err.Error(), c.name) {
				t.Errorf("%s: %v, want %v naming the file", c.name, err, c.class)
			}
			continue
		}
		if err != nil || md.Architecture != "x86_64" || md.Properties["os"] != "busybox" || md.Created().Unix() != 1700000000 || md.HasRootfs != c.rootfs {
			t.Errorf("%s: %+v, %v", c.name, md, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("meta"), 0o644)
	os.WriteFile(b, []byte("rootfs"), 0o644)
	fp, size, err := Fingerprint(a, b)
	sum := sha256.Sum256([]byte("metarootfs"))
	if err != nil || fp != hex.EncodeToString(sum[:]) || size != 10 {
		t.Errorf("Fingerprint = %s, %d, %v", fp, size, err)
	}
	if _, _, err := Fingerprint(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSafeNameAndSave(t *testing.T) {
	for in, want := range map[string]string{
		"abc.tar.xz": "abc.tar.xz", "../../etc/passwd": "passwd", `..\..\x`: "x", "a/b/": "",
		"..": "", ".": "", "": "", "a\nb": "", "a\x00b": "", "\xff": "", strings.Repeat("a", 256): "",
	} {
		got, ok := SafeName(in)
		if got != want || ok != (want != "") {
			t.Errorf("SafeName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	dir, outside := t.TempDir(), t.TempDir()
	target := filepath.Join(outside, "victim")
	os.WriteFile(target, []byte("untouched"), 0o644)
	if err := os.Symlink(target, filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	path, n, err := Save(dir, "f", strings.NewReader("new"))
	if err != nil || n != 3 || path != filepath.Join(dir, "f") {
		t.Fatalf("Save: %q %d %v", path, n, err)
	}
	if data, _ := os.ReadFile(target); string(data) != "untouched" {
		t.Error("Save wrote through a symlink")
	}
	if fi, _ := os.Lstat(path); !fi.Mode().IsRegular() {
		t.Error("the symlink is still there")
	}
	for _, bad := range []string{"../x", "a/b", "", ".."} {
		if _, _, err := Save(dir, bad, strings.NewReader("x")); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Save(%q): %v", bad, err)
		}
	}
	// A failed copy leaves nothing.
	_, _, err = Save(dir, "g", &failing{})
	if err == nil {
		t.Fatal("Save of a failing reader succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errors.New("broken") }

func TestStem(t *testing.T) {
	for in, want := range map[string]struct {
		stem string
		meta bool
	}{
		"debian-12.tar.xz":         {"debian-12", false},
		"ubuntu-22.04.squashfs":    {"ubuntu-22.04", false},
		"meta-ubuntu-22.04.tar.xz": {"ubuntu-22.04", true},
		"abc":                      {"abc", false},
		".tar.gz":                  {".tar", false},
		"vm.qcow2":                 {"vm", false},
		"meta-x":                   {"x", true},
	} {
		stem, meta := Stem(in)
		if stem != want.stem || meta != want.meta {
			t.Errorf("Stem(%q) = %q, %v; want %+v", in, stem, meta, want)
		}
	}
}
