// Package dirsnap records a directory tree's files (mode, modification
// time, content hash) so that tests can show that an operation left it
// alone.
package dirsnap

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// Snapshot maps every path under a directory to its mode, modification
// time and, for regular files, content hash.
type Snapshot map[string]string

// Take snapshots dir.
func Take(dir string) (Snapshot, error) {
	out := Snapshot{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		out[p] = fmt.Sprintf("%v %s %s", fi.Mode(), fi.ModTime().Format(time.RFC3339Nano), sum)
		return nil
	})
	return out, err
}

// Must snapshots dir, failing the test when it cannot.
func Must(t testing.TB, dir string) Snapshot {
	t.Helper()
	s, err := Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Names lists the names in dir, failing the test when it cannot.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// Diff lists, sorted, each path that differs between before and after,
// with both records ("" where missing).
func Diff(before, after Snapshot) []string {
	var diffs []string
	for p, b := range before {
		if after[p] != b {
			diffs = append(diffs, fmt.Sprintf("%s changed:\n  before %q\n  after  %q", p, b, after[p]))
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s changed:\n  before %q\n  after  %q", p, "", a))
		}
	}
	sort.Strings(diffs)
	return diffs
}
