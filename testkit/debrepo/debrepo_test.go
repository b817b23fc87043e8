package debrepo

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const index = `Package: hello
Version: 2.10-3
Filename: ./hello_2.10-3_amd64.deb

Package: libwayland-egl1
Version: 1.21.0-1
Depends: libc6 (>= 2.2.5)

Package: libwayland-egl1
Version: 1.23.0-1~bpo12+1
Description: the last paragraph, without a blank line after it
`

func TestPackages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Packages"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs, err := Packages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{"hello", "2.10-3"}, {"libwayland-egl1", "1.21.0-1"}, {"libwayland-egl1", "1.23.0-1~bpo12+1"}}
	if !slices.Equal(pkgs, want) {
		t.Errorf("Packages = %v; want %v", pkgs, want)
	}
	if got := Versions(pkgs, "libwayland-egl1"); !slices.Equal(got, []string{"1.21.0-1", "1.23.0-1~bpo12+1"}) {
		t.Errorf("Versions = %q", got)
	}
}

// TestServe serves a folder to a peer on loopback: the address is
// loopback's, and apt's /./ paths are served, not redirected.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Release"), []byte("Origin: lxkit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Serve(dir, "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s; want one on 127.0.0.1", s.URL)
	}
	if got := s.SourcesList(); got != "deb [trusted=yes] "+s.URL+" ./\n" {
		t.Errorf("SourcesList = %q", got)
	}
	res, err := http.Get(s.URL + "./Release")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "Origin: lxkit\n" || res.Request.URL.Path != "/./Release" {
		t.Errorf("GET /./Release: %s %q (at %s)", res.Status, body, res.Request.URL.Path)
	}
	if got := s.Requests(); !slices.Equal(got, []string{"/./Release"}) {
		t.Errorf("Requests = %q", got)
	}
	if _, err := HostAddress("fe80::1"); err == nil || err.Error() != `"fe80::1" is not an IPv4 address` {
		t.Errorf("HostAddress(fe80::1): %v", err)
	}
}
