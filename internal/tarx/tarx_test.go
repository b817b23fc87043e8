//go:build unix

package tarx

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// newTree builds the test tree at <tmp>/tree and returns its path and snapshot
// (without the fifo, which Write skips).
func newTree(t *testing.T) (string, map[string]string) {
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src)
	t.Cleanup(func() { makeRemovable(src) })
	return src, treeSnapshot(t, src, true)
}

func treeSnapshot(t *testing.T, src string, dirTimes bool) map[string]string {
	want := snapshot(t, src, dirTimes)
	delete(want, "fifo")
	return want
}

func tempDest(t *testing.T) string {
	dest := t.TempDir()
	t.Cleanup(func() { makeRemovable(dest) })
	return dest
}

func TestWriteExtract(t *testing.T) {
	src, want := newTree(t)
	var buf bytes.Buffer
	if err := Write(&buf, src, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	dest := tempDest(t)
	sum, err := Extract(bytes.NewReader(buf.Bytes()), dest, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	compareTrees(t, want, snapshot(t, filepath.Join(dest, "tree"), true))

	var wantSum Summary
	for _, s := range want {
		switch s[0] {
		case 'd':
			wantSum.Dirs++
		case 'L':
			wantSum.Symlinks++
		default:
			wantSum.Files++
		}
	}
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if fi, _ := d.Info(); fi.Mode().IsRegular() {
			wantSum.Bytes += fi.Size()
		}
		return err
	}))
	if !reflect.DeepEqual(sum, wantSum) || sum.Files != 14 || sum.Symlinks != 4 {
		t.Errorf("summary = %+v, want %+v (14 files, 4 symlinks)", sum, wantSum)
	}

	// Extracting again over the existing tree gives the same result.
	if _, err := Extract(bytes.NewReader(buf.Bytes()), dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, want, snapshot(t, filepath.Join(dest, "tree"), true))
}

func TestWriteNames(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "t")
	must(t, os.MkdirAll(filepath.Join(src, "sub/empty"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("aaa"), 0o600))
	must(t, os.Chmod(filepath.Join(src, "a"), 0o750|os.ModeSetuid))
	must(t, os.WriteFile(filepath.Join(src, "sub/b"), nil, 0o644))
	must(t, os.Symlink("/nowhere", filepath.Join(src, "l")))
	must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))

	var buf bytes.Buffer
	must(t, Write(&buf, src+"/", WriteOptions{UID: 1000, GID: 1001}))
	tr := tar.NewReader(&buf)
	var got []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		got = append(got, hdr.Name)
		if hdr.Uid != 1000 || hdr.Gid != 1001 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 1000:1001 without names", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname)
		}
		if hdr.Name == "t/a" && (hdr.Mode != 0o4750 || hdr.Size != 3) {
			t.Errorf("t/a: mode %o size %d, want 4750 and 3", hdr.Mode, hdr.Size)
		}
		if hdr.Name == "t/l" && (hdr.Typeflag != tar.TypeSymlink || hdr.Linkname != "/nowhere") {
			t.Errorf("t/l: type %c link %q", hdr.Typeflag, hdr.Linkname)
		}
	}
	want := []string{"t/", "t/a", "t/l", "t/sub/", "t/sub/b", "t/sub/empty/"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}

	// A single file or symlink is archived under its own name.
	buf.Reset()
	must(t, Write(&buf, filepath.Join(src, "sub/b"), WriteOptions{}))
	if got := tarNames(t, buf.Bytes()); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("single file: names = %q", got)
	}
	buf.Reset()
	must(t, Write(&buf, filepath.Join(src, "l"), WriteOptions{}))
	if got := tarNames(t, buf.Bytes()); !reflect.DeepEqual(got, []string{"l"}) {
		t.Errorf("symlink: names = %q", got)
	}
	if err := Write(io.Discard, filepath.Join(dir, "missing"), WriteOptions{}); err == nil {
		t.Error("Write of a missing path succeeded")
	}
}

var tars = []struct {
	name string
	cmd  []string
}{
	{"gnu", []string{"tar"}},
	{"busybox", []string{"busybox", "tar"}},
}

// Write's output extracted by GNU and busybox tar.
func TestWriteRealTar(t *testing.T) {
	src, _ := newTree(t)
	var buf bytes.Buffer
	must(t, Write(&buf, src, WriteOptions{}))
	for _, tool := range tars {
		t.Run(tool.name, func(t *testing.T) {
			if _, err := exec.LookPath(tool.cmd[0]); err != nil {
				t.Skip(err)
			}
			dest := tempDest(t)
			run(t, buf.Bytes(), tool.cmd[0], append(tool.cmd[1:], "-xf", "-", "-C", dest)...)
			// busybox tar sets a directory's mtime before writing its files.
			dirTimes := tool.name == "gnu"
			compareTrees(t, treeSnapshot(t, src, dirTimes), snapshot(t, filepath.Join(dest, "tree"), dirTimes))
		})
	}
}

// Archives made by GNU and busybox tar, extracted by Extract.
func TestRealTarExtract(t *testing.T) {
	src, want := newTree(t)
	parent := filepath.Dir(src)
	for _, tool := range tars {
		for _, variant := range []struct {
			name string
			args []string
			dot  bool // archive "." instead of "tree": names start with "./"
		}{
			{"default", nil, false},
			{"dot", nil, true},
			{"pax", []string{"--format=pax"}, false},
		} {
			if tool.name == "busybox" && variant.name == "pax" {
				continue
			}
			t.Run(tool.name+"-"+variant.name, func(t *testing.T) {
				if _, err := exec.LookPath(tool.cmd[0]); err != nil {
					t.Skip(err)
				}
				args := append(tool.cmd[1:], variant.args...)
				if variant.dot {
					args = append(args, "-cf", "-", "-C", src, ".")
				} else {
					args = append(args, "-cf", "-", "-C", parent, "tree")
				}
				data := run(t, nil, tool.cmd[0], args...)
				dest := tempDest(t)
				root := filepath.Join(dest, "tree")
				if variant.dot {
					root = dest
				}
				sum, err := Extract(bytes.NewReader(data), dest, ExtractOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got := snapshot(t, root, true)
				if variant.dot {
					got["."] = want["."] // dest itself is left alone
				}
				compareTrees(t, want, got)
				if len(sum.Skipped) != 1 || !strings.HasSuffix(sum.Skipped[0], "fifo") {
					t.Errorf("skipped = %q, want the fifo", sum.Skipped)
				}
				if sum.Files != 14 || sum.Symlinks != 4 {
					t.Errorf("summary = %+v, want 14 files and 4 symlinks", sum)
				}
			})
		}
	}
}

// GNU tar (and busybox) may list a directory after its files; a read-only
// directory must still get its files, and its mode and mtime.
func TestExtractDirAfterFiles(t *testing.T) {
	data := buildTar(t,
		entry{name: "d/sub/f", body: "x"},
		entry{name: "d/sub/", typ: tar.TypeDir, mode: 0o555},
		entry{name: "./d/", typ: tar.TypeDir, mode: 0o1777},
	)
	dest := tempDest(t)
	sum, err := Extract(bytes.NewReader(data), dest, ExtractOptions{})
	must(t, err)
	if sum.Dirs != 2 || sum.Files != 1 || sum.Bytes != 1 {
		t.Errorf("summary = %+v", sum)
	}
	got := snapshot(t, dest, true)
	want := map[string]string{
		"d":       "dtrwxrwxrwx 2001-02-03 04:05:06",
		"d/sub":   "dr-xr-xr-x 2001-02-03 04:05:06",
		"d/sub/f": "-rw-r--r-- 2001-02-03 04:05:06 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
	}
	want["."] = got["."]
	compareTrees(t, want, got)
}

func TestExtractChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	data := buildTar(t,
		entry{name: "d/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "d/f", body: "x", mode: 0o4755},
		entry{name: "d/l", typ: tar.TypeSymlink, link: "f"},
	)
	// Rewrite the owners (buildTar writes 0:0).
	var buf bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(data)), tar.NewWriter(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		hdr.Uid, hdr.Gid = 1234, 5678
		must(t, tw.WriteHeader(hdr))
		_, err = io.Copy(tw, tr)
		must(t, err)
	}
	must(t, tw.Close())

	for _, chown := range []bool{false, true} {
		dest := tempDest(t)
		_, err := Extract(bytes.NewReader(buf.Bytes()), dest, ExtractOptions{Chown: chown})
		must(t, err)
		for _, name := range []string{"d", "d/f", "d/l"} {
			fi, err := os.Lstat(filepath.Join(dest, name))
			must(t, err)
			st := fi.Sys().(*syscall.Stat_t)
			want := [2]uint32{0, 0}
			if chown {
				want = [2]uint32{1234, 5678}
			}
			if got := [2]uint32{st.Uid, st.Gid}; got != want {
				t.Errorf("chown=%v %s: owner %v, want %v", chown, name, got, want)
			}
			if name == "d/f" && fi.Mode() != 0o755|fs.ModeSetuid {
				t.Errorf("chown=%v %s: mode %v, want setuid kept", chown, name, fi.Mode())
			}
		}
	}
}

func TestExtractBrokenStreams(t *testing.T) {
	src, _ := newTree(t)
	var buf bytes.Buffer
	must(t, Write(&buf, src, WriteOptions{}))
	data := buf.Bytes()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated in header", data[:700]},
		{"truncated in file", data[:len(data)/2+3]},
		{"garbage", bytes.Repeat([]byte("garbage!"), 200)},
		{"bad checksum", append(append([]byte{}, data[:100]...), append([]byte{'X'}, data[101:]...)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract(bytes.NewReader(tc.data), tempDest(t), ExtractOptions{})
			if err == nil || !strings.Contains(err.Error(), "tarx: ") {
				t.Errorf("err = %v, want a tarx error", err)
			}
		})
	}
	if _, err := Extract(bytes.NewReader(data), filepath.Join(t.TempDir(), "missing"), ExtractOptions{}); err == nil {
		t.Error("Extract into a missing directory succeeded")
	}
}

// Memory stays flat: a 1 GiB (sparse) file is written with a few allocations.
func TestWriteMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 1 GiB")
	}
	src := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(src)
	must(t, err)
	must(t, f.Truncate(1<<30))
	must(t, f.Close())
	n := allocBytes(func() {
		cw := &countWriter{}
		must(t, Write(cw, src, WriteOptions{}))
		if cw.n < 1<<30 {
			t.Errorf("wrote %d bytes", cw.n)
		}
	})
	t.Logf("Write of 1 GiB allocated %d bytes", n)
	if n > 1<<20 {
		t.Errorf("Write of 1 GiB allocated %d bytes", n)
	}
}

func TestExtractMemoryFlat(t *testing.T) {
	const size = 64 << 20
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	must(t, tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}))
	stream := io.MultiReader(&hdr, io.LimitReader(zeros{}, size), bytes.NewReader(make([]byte, 1024)))
	dest := tempDest(t)
	var sum Summary
	n := allocBytes(func() {
		var err error
		sum, err = Extract(stream, dest, ExtractOptions{})
		must(t, err)
	})
	t.Logf("Extract of %d MiB allocated %d bytes", size>>20, n)
	if sum.Bytes != size || n > 1<<20 {
		t.Errorf("extracted %d bytes with %d bytes allocated", sum.Bytes, n)
	}
}

func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Sparse files (GNU tar --sparse) are refused: their holes could expand a
// small stream into a huge file.
func TestExtractSparse(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "sparse"))
	must(t, err)
	must(t, f.Truncate(1<<30))
	_, err = f.WriteAt([]byte("data"), 1<<20)
	must(t, err)
	must(t, f.Close())
	for _, format := range []string{"gnu", "pax"} {
		data := run(t, nil, "tar", "--sparse", "--format="+format, "-cf", "-", "-C", dir, "sparse")
		if len(data) > 1<<20 {
			t.Fatalf("%s: archive is not sparse (%d bytes)", format, len(data))
		}
		dest := tempDest(t)
		_, err := Extract(bytes.NewReader(data), dest, ExtractOptions{})
		if err == nil || !strings.Contains(err.Error(), `"sparse": sparse files are not supported`) {
			t.Errorf("%s: err = %v", format, err)
		}
		if names, _ := os.ReadDir(dest); len(names) != 0 {
			t.Errorf("%s: dest holds %v", format, names)
		}
	}
}

// writeCounter counts the writes it is given and their bytes.
type writeCounter struct{ writes, bytes int }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	w.bytes += len(p)
	return len(p), nil
}

// Write hands its writer whole chunks, not a write per header, small file
// and padding: over exec's stdin each write is a websocket message.
func TestWriteInChunks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "small")
	must(t, os.Mkdir(src, 0o755))
	for i := range 300 {
		must(t, os.WriteFile(filepath.Join(src, "f"+strconv.Itoa(i)), make([]byte, 100), 0o644))
	}
	var w writeCounter
	must(t, Write(&w, src, WriteOptions{}))
	if most := w.bytes/writeChunk + 1; w.writes > most {
		t.Errorf("300 files (%d bytes) went out in %d writes, want at most %d", w.bytes, w.writes, most)
	}
}
