//go:build unix

package tarx

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hostileCases are archives a malicious container could send. "@P" in names
// and link targets stands for the absolute path of the directory holding dest.
var hostileCases = []struct {
	name    string
	setup   func(t *testing.T, dest string) // optional, prepares dest
	entries []entry
	wantErr string   // substring of the error; "" means success
	skipped []string // wanted Summary.Skipped
	check   func(t *testing.T, dest string)
}{
	{name: "absolute name",
		entries: []entry{{name: "@P/evil", body: "x"}},
		wantErr: `"@P/evil": path is absolute or escapes`},
	{name: "dotdot",
		entries: []entry{{name: "../evil", body: "x"}},
		wantErr: `"../evil": path is absolute or escapes`},
	{name: "dotdot after dir",
		entries: []entry{{name: "a/../../evil", body: "x"}},
		wantErr: `"a/../../evil": path is absolute or escapes`},
	{name: "dotdot staying inside",
		entries: []entry{{name: "./a/../b", body: "x"}},
		check:   wantFile("b", "x")},
	{name: "symlink out then file through it",
		entries: []entry{{name: "l", typ: tar.TypeSymlink, link: "../"}, {name: "l/evil", body: "x"}},
		wantErr: `"l/evil": l is a symlink`,
		check:   wantLink("l", "../")},
	{name: "absolute symlink then file through it",
		entries: []entry{{name: "l", typ: tar.TypeSymlink, link: "@P"}, {name: "l/evil", body: "x"}},
		wantErr: `"l/evil": l is a symlink`},
	{name: "symlink to root then dir through it",
		entries: []entry{{name: "root", typ: tar.TypeSymlink, link: "/"}, {name: "root@P/evil/", typ: tar.TypeDir}},
		wantErr: `root is a symlink`},
	{name: "symlink inside dest is not followed either",
		entries: []entry{{name: "in/", typ: tar.TypeDir}, {name: "l", typ: tar.TypeSymlink, link: "in"}, {name: "l/x", body: "x"}},
		wantErr: `"l/x": l is a symlink`,
		check:   wantMissing("in/x")},
	{name: "file below a file",
		entries: []entry{{name: "f", body: "x"}, {name: "f/x", body: "y"}},
		wantErr: `"f/x": f is not a directory`,
		check:   wantFile("f", "x")},
	{name: "hard link to /etc/passwd",
		entries: []entry{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}},
		wantErr: `"h": hard link target "/etc/passwd": path is absolute`},
	{name: "hard link escaping",
		entries: []entry{{name: "h", typ: tar.TypeLink, link: "../../../../../../etc/passwd"}},
		wantErr: `path is absolute or escapes`},
	{name: "hard link through symlink out",
		entries: []entry{{name: "l", typ: tar.TypeSymlink, link: "/etc"}, {name: "h", typ: tar.TypeLink, link: "l/passwd"}},
		wantErr: `"h": hard link target`,
		check:   wantMissing("h")},
	{name: "hard link to directory",
		entries: []entry{{name: "d/", typ: tar.TypeDir}, {name: "h", typ: tar.TypeLink, link: "d"}},
		wantErr: `"h": hard link target "d" is not a file`},
	{name: "file replacing a hard link leaves the original alone",
		entries: []entry{{name: "f", body: "orig"}, {name: "h", typ: tar.TypeLink, link: "./f"}, {name: "h", body: "new"}},
		check: func(t *testing.T, dest string) {
			wantFile("f", "orig")(t, dest)
			wantFile("h", "new")(t, dest)
		}},
	{name: "devices and fifos are skipped",
		entries: []entry{
			{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
			{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660},
			{name: "fifo", typ: tar.TypeFifo},
			{name: "f", body: "x"},
		},
		skipped: []string{"dev/null", "dev/sda", "fifo"},
		check: func(t *testing.T, dest string) {
			wantMissing("dev")(t, dest)
			wantMissing("fifo")(t, dest)
			wantFile("f", "x")(t, dest)
		}},
	{name: "name too long",
		entries: []entry{{name: strings.Repeat("a/", 3000) + "f", body: "x"}},
		wantErr: `name too long`,
		check:   wantMissing("a")},
	{name: "file named dot",
		entries: []entry{{name: ".", body: "x"}},
		wantErr: `".": invalid name`},
	{name: "file replacing a non-empty dir",
		entries: []entry{{name: "d/", typ: tar.TypeDir}, {name: "d/x", body: "x"}, {name: "d", body: "y"}},
		wantErr: `"d": removeat d: directory not empty`,
		check:   wantFile("d/x", "x")},
	{name: "symlink replacing an empty dir gets no dir mode",
		entries: []entry{
			{name: "a/", typ: tar.TypeDir, mode: 0o700},
			{name: "d/", typ: tar.TypeDir, mode: 0o777},
			{name: "d", typ: tar.TypeSymlink, link: "a"},
		},
		check: func(t *testing.T, dest string) {
			wantLink("d", "a")(t, dest)
			if fi, err := os.Stat(filepath.Join(dest, "a")); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o700 {
				t.Errorf("a: %v, want mode 0700", fi.Mode())
			}
		}},
	{name: "symlink replacing dir then file through it",
		entries: []entry{{name: "e/", typ: tar.TypeDir}, {name: "e", typ: tar.TypeSymlink, link: "@P"}, {name: "e/x", body: "x"}},
		wantErr: `"e/x": e is a symlink`},
	{name: "dir replacing symlink",
		entries: []entry{{name: "s", typ: tar.TypeSymlink, link: "/"}, {name: "s/", typ: tar.TypeDir, mode: 0o750}, {name: "s/f", body: "x"}},
		check: func(t *testing.T, dest string) {
			wantFile("s/f", "x")(t, dest)
			if fi, err := os.Lstat(filepath.Join(dest, "s")); err != nil {
				t.Error(err)
			} else if fi.Mode() != os.ModeDir|0o750 {
				t.Errorf("s: %v, want a 0750 dir", fi.Mode())
			}
		}},
	{name: "file replacing a symlink pointing out",
		entries: []entry{{name: "l", typ: tar.TypeSymlink, link: "../outside"}, {name: "l", body: "new"}},
		check:   wantFile("l", "new")},
	{name: "file replacing a pre-existing symlink",
		setup: func(t *testing.T, dest string) {
			must(t, os.Symlink("../outside", filepath.Join(dest, "pre")))
		},
		entries: []entry{{name: "pre", body: "new"}},
		check:   wantFile("pre", "new")},
	{name: "pre-existing symlink is not traversed",
		setup: func(t *testing.T, dest string) {
			must(t, os.Symlink("..", filepath.Join(dest, "pre")))
		},
		entries: []entry{{name: "pre/x", body: "x"}},
		wantErr: `"pre/x": pre is a symlink`},
}

func TestExtractHostile(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			must(t, os.Mkdir(dest, 0o755))
			must(t, os.WriteFile(filepath.Join(parent, "outside"), []byte("keep"), 0o644))
			t.Cleanup(func() { makeRemovable(parent) })
			if tc.setup != nil {
				tc.setup(t, dest)
			}
			before := outsideDest(t, parent)

			entries := append([]entry{}, tc.entries...)
			for i := range entries {
				entries[i].name = strings.ReplaceAll(entries[i].name, "@P", parent)
				entries[i].link = strings.ReplaceAll(entries[i].link, "@P", parent)
			}
			sum, err := Extract(bytes.NewReader(buildTar(t, entries...)), dest, ExtractOptions{})
			wantErr := strings.ReplaceAll(tc.wantErr, "@P", parent)
			switch {
			case wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Errorf("error = %v, want it to contain %q", err, wantErr)
			}
			if !reflect.DeepEqual(sum.Skipped, tc.skipped) {
				t.Errorf("skipped = %q, want %q", sum.Skipped, tc.skipped)
			}
			compareTrees(t, before, outsideDest(t, parent))
			if tc.check != nil {
				tc.check(t, dest)
			}
		})
	}
}

// outsideDest snapshots parent without dest's contents. Dest itself is
// kept by its mode only: its time changes whenever an entry is made in it
// (a run that crossed a second boundary failed on that).
func outsideDest(t *testing.T, parent string) map[string]string {
	m := snapshot(t, parent, true)
	for k := range m {
		if strings.HasPrefix(k, "dest/") {
			delete(m, k)
		}
	}
	if s, ok := m["dest"]; ok {
		m["dest"], _, _ = strings.Cut(s, " ")
	}
	return m
}

func wantFile(name, data string) func(*testing.T, string) {
	return func(t *testing.T, dest string) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dest, name))
		got, _ := os.ReadFile(filepath.Join(dest, name))
		if err != nil || !fi.Mode().IsRegular() || string(got) != data {
			t.Errorf("%s: want a regular file with %q, got %v %q (%v)", name, data, fi, got, err)
		}
	}
}

func wantLink(name, target string) func(*testing.T, string) {
	return func(t *testing.T, dest string) {
		t.Helper()
		if got, err := os.Readlink(filepath.Join(dest, name)); err != nil || got != target {
			t.Errorf("%s: want a symlink to %q, got %q (%v)", name, target, got, err)
		}
	}
}

func wantMissing(name string) func(*testing.T, string) {
	return func(t *testing.T, dest string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(dest, name)); !os.IsNotExist(err) {
			t.Errorf("%s exists (%v)", name, err)
		}
	}
}
