package dirsnap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a")
	if err := os.WriteFile(file, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(before, again); len(d) != 0 {
		t.Errorf("unchanged directory: %v", d)
	}

	// Same size, same time: only the content differs.
	fi, _ := os.Stat(file)
	if err := os.WriteFile(file, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	after, err := Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The directory (a new entry), a (its content) and b (new).
	d := Diff(before, after)
	want := []string{dir, file, filepath.Join(dir, "b")}
	if len(d) != len(want) {
		t.Fatalf("Diff = %q", d)
	}
	for i, p := range want {
		if !strings.HasPrefix(d[i], p+" changed:") {
			t.Errorf("Diff[%d] = %q, want %s", i, d[i], p)
		}
	}
	if _, err := Take(filepath.Join(dir, "missing")); err == nil {
		t.Error("Take of a missing directory succeeded")
	}
}
