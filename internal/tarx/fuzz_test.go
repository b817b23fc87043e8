//go:build unix

package tarx

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzExtract checks that no input panics or creates anything next to dest.
// Hostile names use "/tmp/tarx-fuzz-outside" instead of the unknown parent.
// Executions are filesystem-bound: TMPDIR=/dev/shm and -fuzzminimizetime=3s
// leave more of -fuzztime for fuzzing.
func FuzzExtract(f *testing.F) {
	for _, tc := range hostileCases {
		entries := append([]entry{}, tc.entries...)
		for i := range entries {
			entries[i].name = strings.ReplaceAll(entries[i].name, "@P", "/tmp/tarx-fuzz-outside")
			entries[i].link = strings.ReplaceAll(entries[i].link, "@P", "/tmp/tarx-fuzz-outside")
		}
		data := buildTar(f, entries...)
		f.Add(data[:len(data)-1024]) // without the end marker, to keep inputs small
	}
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, err := os.MkdirTemp(base, "")
		must(t, err)
		defer os.RemoveAll(parent)
		defer makeRemovable(parent)
		dest := filepath.Join(parent, "dest")
		must(t, os.Mkdir(dest, 0o755))
		Extract(bytes.NewReader(data), dest, ExtractOptions{})
		names, err := os.ReadDir(parent)
		must(t, err)
		if len(names) != 1 || names[0].Name() != "dest" || !names[0].IsDir() {
			t.Fatalf("parent holds %v", names)
		}
		if _, err := os.Lstat("/tmp/tarx-fuzz-outside"); err == nil {
			t.Fatal("/tmp/tarx-fuzz-outside was created")
		}
	})
}

// benchTree makes 2,000 files of 6,000 bytes (12 MB) in 40 directories.
func benchTree(b testing.TB) string {
	src := filepath.Join(b.TempDir(), "bench")
	data := randBytes(6000)
	for i := range 2000 {
		p := filepath.Join(src, fmt.Sprintf("d%02d/f%04d", i%40, i))
		if i < 40 {
			must(b, os.MkdirAll(filepath.Dir(p), 0o755))
		}
		must(b, os.WriteFile(p, data, 0o644))
	}
	return src
}

func BenchmarkWrite(b *testing.B) {
	src := benchTree(b)
	b.SetBytes(2000 * 6000)
	for b.Loop() {
		if err := Write(io.Discard, src, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteExtract(b *testing.B) {
	src := benchTree(b)
	tmp := b.TempDir()
	b.SetBytes(2000 * 6000)
	for b.Loop() {
		dest, err := os.MkdirTemp(tmp, "")
		must(b, err)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(Write(pw, src, WriteOptions{})) }()
		sum, err := Extract(pr, dest, ExtractOptions{})
		if err != nil || sum.Files != 2000 {
			b.Fatal(sum, err)
		}
		b.StopTimer()
		must(b, os.RemoveAll(dest))
		b.StartTimer()
	}
}

// TestBenchTree keeps the benchmark's tree honest.
func TestBenchTree(t *testing.T) {
	var buf bytes.Buffer
	must(t, Write(&buf, benchTree(t), WriteOptions{}))
	names := tarNames(t, buf.Bytes())
	if len(names) != 2041 || !reflect.DeepEqual(names[:3], []string{"bench/", "bench/d00/", "bench/d00/f0000"}) {
		t.Errorf("names: %d, first %q", len(names), names[:3])
	}
}
