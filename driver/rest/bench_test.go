package rest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// benchContainer launches a container on each daemon for a benchmark.
func benchEach(b *testing.B, f func(b *testing.B, tr transport.Transport)) {
	for _, h := range testhost.Hosts() {
		b.Run(h.Name, func(b *testing.B) {
			d := rest.New(testhost.Connect(b, h))
			name := testhost.Name("bench")
			ctx := context.Background()
			if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = d.Delete(ctx, name) })
			f(b, d.Transport(name))
		})
	}
}

// BenchmarkExecTrue is the round trip of running `true`.
func BenchmarkExecTrue(b *testing.B) {
	benchEach(b, func(b *testing.B, tr transport.Transport) {
		ctx := context.Background()
		for b.Loop() {
			res, err := tr.Exec(ctx, transport.Command{Args: []string{"true"}})
			if err != nil || res.ExitCode != 0 {
				b.Fatal(res, err)
			}
		}
	})
}

// BenchmarkUploadFolder uploads 2,000 files of 6 KiB (12 MB).
func BenchmarkUploadFolder(b *testing.B) {
	src := filepath.Join(b.TempDir(), "tree")
	buf := make([]byte, 6<<10)
	for i := range 2000 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%40))
		_ = os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	benchEach(b, func(b *testing.B, tr transport.Transport) {
		ctx := context.Background()
		b.SetBytes(12 << 20)
		for b.Loop() {
			if err := transport.UploadFolder(ctx, tr, src, "/root"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRunEcho captures a command's output (the recorded-output path).
func BenchmarkRunEcho(b *testing.B) {
	benchEach(b, func(b *testing.B, tr transport.Transport) {
		ctx := context.Background()
		for b.Loop() {
			out, err := transport.Run(ctx, tr, "echo", "hello")
			if err != nil || out != "hello\n" {
				b.Fatal(out, err)
			}
		}
	})
}
