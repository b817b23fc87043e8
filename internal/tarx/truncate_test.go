//go:build unix

package tarx

import (
	"archive/tar"
	"bytes"
	"errors"
	"testing"
)

func TestTruncatedArchive(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"a", "b"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("abc"))
	}
	tw.Close()
	full := buf.Bytes()

	if _, err := Extract(bytes.NewReader(full), t.TempDir(), ExtractOptions{}); err != nil {
		t.Errorf("complete archive: %v", err)
	}
	// Cut at an entry boundary (after both entries, before the trailer), and
	// after the first entry: what arrived is extracted, and the cut is an error.
	for _, cut := range []int{2048, 1024, 0} {
		sum, err := Extract(bytes.NewReader(full[:cut]), t.TempDir(), ExtractOptions{})
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: %v; want ErrTruncated", cut, err)
		}
		if want := cut / 1024; sum.Files != want {
			t.Errorf("cut at %d: %d files extracted; want %d", cut, sum.Files, want)
		}
	}
}
