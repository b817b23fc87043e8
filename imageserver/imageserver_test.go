package imageserver_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/imageserver"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// stamp is every fixture's time, so that the documents do not change.
var stamp = time.Date(2024, 5, 6, 7, 8, 0, 0, time.UTC)

// tarball returns a plain tar of files (name -> content; a name ending in
// "/" is a directory).
func tarball(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		hdr := &tar.Header{Name: files[i], Mode: 0o644, ModTime: stamp, Typeflag: tar.TypeReg, Size: int64(len(files[i+1]))}
		if strings.HasSuffix(files[i], "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func metadata(arch, os, release string) string {
	return fmt.Sprintf("architecture: %s\ncreation_date: %d\nproperties:\n  os: %s\n  release: %q\n  requirements.secureboot: \"false\"\n",
		arch, stamp.Unix(), os, release)
}

// exportedName is the fingerprint-named file of fixtures.
var exportedName string

// fixtures writes a directory of images and of things that are not.
func fixtures(t *testing.T) (dir, outside string) {
	t.Helper()
	dir = t.TempDir()
	outside = t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("debian.tar", tarball(t, "metadata.yaml", metadata("x86_64", "debian", "12"), "rootfs/", "", "rootfs/etc/hostname", "deb\n"))
	write("meta-alpine.tar", tarball(t, "metadata.yaml", metadata("amd64", "alpine", "3.20"), "templates/", ""))
	write("alpine.squashfs", append([]byte("hsqs"), make([]byte, 600)...))
	write("meta-vm.tar", tarball(t, "./metadata.yaml", metadata("x86_64", "ubuntu", "24.04")))
	write("vm.qcow2", append([]byte("QFI\xfb"), make([]byte, 600)...))
	exported := tarball(t, "metadata.yaml", metadata("aarch64", "busybox", "1.36"), "rootfs/", "")
	sum := sha256.Sum256(exported)
	exportedName = hex.EncodeToString(sum[:]) + ".tar"
	write(exportedName, exported)
	// Not images.
	write("notes.txt", []byte("hello, this is not an image\n"))
	write("broken.tar", tarball(t, "metadata.yaml", metadata("x86_64", "x", "1")))
	write("meta-lonely.tar", tarball(t, "metadata.yaml", metadata("x86_64", "x", "1")))
	write("noarch.tar", tarball(t, "metadata.yaml", "creation_date: 1\n", "rootfs/", ""))
	write(".hidden.tar", tarball(t, "metadata.yaml", metadata("x86_64", "x", "1"), "rootfs/", ""))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink inside lends its name; one out of the directory is refused.
	if err := os.Symlink("debian.tar", filepath.Join(dir, "stable.tar")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.tar")
	if err := os.WriteFile(secret, tarball(t, "metadata.yaml", metadata("x86_64", "secret", "1"), "rootfs/", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "escape.tar")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(outside)+"/secret.tar", filepath.Join(dir, "escape2.tar")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	return dir, outside
}

func newServer(t *testing.T, dir string, opts imageserver.Options) *imageserver.Server {
	t.Helper()
	s, err := imageserver.New(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sha(t *testing.T, paths ...string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func get(t *testing.T, ts *httptest.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := ts.Client().Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestIndex(t *testing.T) {
	dir, _ := fixtures(t)
	s := newServer(t, dir, imageserver.Options{Aliases: map[string]string{"busybox": exportedName[:12], "small": "alpine.squashfs"}})

	debian := sha(t, filepath.Join(dir, "debian.tar"))
	alpine := sha(t, filepath.Join(dir, "meta-alpine.tar"), filepath.Join(dir, "alpine.squashfs"))
	vm := sha(t, filepath.Join(dir, "meta-vm.tar"), filepath.Join(dir, "vm.qcow2"))
	busybox := strings.TrimSuffix(exportedName, ".tar")
	want := map[string]imageserver.Image{
		debian:  {Files: []string{"debian.tar"}, Aliases: []string{"debian", "stable"}, Architecture: "x86_64", Type: "container"},
		alpine:  {Files: []string{"meta-alpine.tar", "alpine.squashfs"}, Aliases: []string{"alpine", "small"}, Architecture: "amd64", Type: "container"},
		vm:      {Files: []string{"meta-vm.tar", "vm.qcow2"}, Aliases: []string{"vm"}, Architecture: "x86_64", Type: "virtual-machine"},
		busybox: {Files: []string{exportedName}, Aliases: []string{"busybox"}, Architecture: "aarch64", Type: "container"},
	}
	images := s.Images()
	if len(images) != len(want) {
		t.Fatalf("images %+v, want %d", images, len(want))
	}
	for _, img := range images {
		w, ok := want[img.Fingerprint]
		if !ok {
			t.Errorf("unexpected image %+v", img)
			continue
		}
		if !slices.Equal(img.Files, w.Files) || !slices.Equal(img.Aliases, w.Aliases) || img.Architecture != w.Architecture || img.Type != w.Type || !img.CreatedAt.Equal(stamp) {
			t.Errorf("image %.12s: %+v, want %+v", img.Fingerprint, img, w)
		}
	}
	var problems []string
	for _, p := range s.Problems() {
		problems = append(problems, p.Error())
	}
	for _, want := range []string{
		"notes.txt is not an image file: not a tarball",
		"broken.tar: an image's metadata without rootfs/",
		"meta-lonely.tar: a split image's metadata without its rootfs",
		"noarch.tar: metadata.yaml names no architecture",
		"escape.tar: a symlink that leads out of the directory",
		"escape2.tar: a symlink that leads out of the directory",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("problems %q lack %q", problems, want)
		}
	}
	if len(problems) != 6 {
		t.Errorf("%d problems, want 6: %q", len(problems), problems)
	}

	ts := httptest.NewServer(s)
	defer ts.Close()
	code, index := get(t, ts, "/streams/v1/index.json")
	if code != http.StatusOK {
		t.Fatalf("index.json: %d", code)
	}
	code, products := get(t, ts, "/streams/v1/images.json")
	if code != http.StatusOK {
		t.Fatalf("images.json: %d", code)
	}
	golden(t, "index.json", index)
	golden(t, "images.json", products)

	// The documents as a daemon reads them: the index names the products;
	// each product's version is dated; its items give the fingerprint by
	// the protocol's rules, for LXD's file types and Incus's alike.
	var st imageserver.Stream
	if err := json.Unmarshal(index, &st); err != nil {
		t.Fatal(err)
	}
	idx := st.Index["images"]
	if idx.DataType != "image-downloads" || idx.Path != "streams/v1/images.json" || len(idx.Products) != 4 {
		t.Fatalf("index %+v", st)
	}
	var ps imageserver.Products
	if err := json.Unmarshal(products, &ps); err != nil {
		t.Fatal(err)
	}
	for _, id := range idx.Products {
		p, ok := ps.Products[id]
		if !ok {
			t.Fatalf("product %s of the index is missing", id)
		}
		w := want[id]
		if p.Aliases != strings.Join(w.Aliases, ",") || p.Architecture != w.Architecture || len(p.Versions) != 1 {
			t.Errorf("product %s: %+v", id, p)
		}
		for name, v := range p.Versions {
			if _, err := time.Parse("20060102", name[:8]); err != nil {
				t.Errorf("version %q does not start with a date", name)
			}
			if fp := daemonFingerprint(t, v, "lxd"); fp != id {
				t.Errorf("LXD reads fingerprint %s for product %s", fp, id)
			}
			if fp := daemonFingerprint(t, v, "incus"); fp != id {
				t.Errorf("Incus reads fingerprint %s for product %s", fp, id)
			}
			for _, it := range v.Items {
				code, body := get(t, ts, "/"+it.Path)
				sum := sha256.Sum256(body)
				if code != http.StatusOK || hex.EncodeToString(sum[:]) != it.SHA256 || int64(len(body)) != it.Size {
					t.Errorf("item %s: %d, %d bytes", it.Path, code, len(body))
				}
			}
		}
	}
}

// daemonFingerprint picks an image's fingerprint from a version as LXD
// ("lxd") or Incus ("incus") does: a combined item's own SHA-256, else the
// metadata item's combined hash for the type of rootfs found.
func daemonFingerprint(t *testing.T, v imageserver.Version, daemon string) string {
	t.Helper()
	if it, ok := v.Items[daemon+"_combined.tar.gz"]; ok && it.FileType == daemon+"_combined.tar.gz" {
		return it.SHA256
	}
	meta, ok := v.Items[daemon+".tar.xz"]
	if !ok || meta.FileType != daemon+".tar.xz" {
		t.Fatalf("no %s metadata item in %+v", daemon, v)
	}
	for _, it := range v.Items {
		switch it.FileType {
		case "root.tar.xz":
			if meta.CombinedRootxzSHA256 != "" {
				return meta.CombinedRootxzSHA256
			}
			return meta.CombinedSHA256
		case "squashfs":
			return meta.CombinedSquashfsSHA256
		case "disk-kvm.img":
			return meta.CombinedDiskKVMSHA256
		}
	}
	t.Fatalf("no rootfs item in %+v", v)
	return ""
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	// The fixtures' fingerprints depend on the temporary directory's
	// symlink target only through escape.tar, which is not served: they
	// are stable.
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run with -update if the change is right):\n%s", name, path, got)
	}
}

// TestServesOnlyWhatItIndexed asks for files by every path that could
// reach outside the index.
func TestServesOnlyWhatItIndexed(t *testing.T) {
	dir, _ := fixtures(t)
	s := newServer(t, dir, imageserver.Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	var debian imageserver.Image
	for _, img := range s.Images() {
		if img.Files[0] == "debian.tar" {
			debian = img
		}
	}
	base := "/images/" + debian.Fingerprint + "/"
	if code, _ := get(t, ts, base+"debian.tar"); code != http.StatusOK {
		t.Fatalf("the indexed file: %d", code)
	}
	for _, path := range []string{
		base + "notes.txt",
		base + "alpine.squashfs", // indexed, but another image's
		base + ".hidden.tar",
		base + "escape.tar",
		base + "stable.tar",
		base + "../" + debian.Fingerprint + "/debian.tar",
		base + "%2e%2e/%2e%2e/notes.txt",
		base + "..%2f..%2fnotes.txt",
		"/images/" + debian.Fingerprint[:12] + "/debian.tar",
		"/debian.tar",
		"/notes.txt",
		"/streams/v1/../v1/index.json",
		"/streams/v1/index.json/",
		"/streams/v1/",
		"/" + dir + "/debian.tar",
		"/images/",
		"/",
	} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // as sent, not cleaned by the client
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	resp, err := ts.Client().Post(ts.URL+base+"debian.tar", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}

	// Ranges, as a resumed download asks.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+base+"debian.tar", nil)
	req.Header.Set("Range", "bytes=0-9")
	resp, err = ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || len(part) != 10 {
		t.Errorf("range: %d, %d bytes", resp.StatusCode, len(part))
	}

	// A file changed since it was indexed is not served: the daemons
	// would refuse its checksum.
	f, err := os.OpenFile(filepath.Join(dir, "debian.tar"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("more"))
	f.Close()
	if code, body := get(t, ts, base+"debian.tar"); code != http.StatusNotFound || !strings.Contains(string(body), "changed") {
		t.Errorf("a changed file: %d %s", code, body)
	}
	// Replaced by a symlink that leads out: still not served.
	os.Remove(filepath.Join(dir, "debian.tar"))
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "debian.tar")); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, ts, base+"debian.tar"); code != http.StatusNotFound || strings.Contains(string(body), "root:") {
		t.Errorf("a symlink out in the place of an indexed file: %d %s", code, body)
	}
	// A FIFO in its place: not waited on.
	os.Remove(filepath.Join(dir, "debian.tar"))
	if err := syscall.Mkfifo(filepath.Join(dir, "debian.tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts.Client().Timeout = 10 * time.Second
	if code, _ := get(t, ts, base+"debian.tar"); code != http.StatusNotFound {
		t.Errorf("a FIFO in the place of an indexed file: %d", code)
	}
	// And one found when indexing is left out.
	s2 := newServer(t, dir, imageserver.Options{})
	if !slices.ContainsFunc(s2.Problems(), func(err error) bool { return strings.Contains(err.Error(), "debian.tar: not a regular file") }) {
		t.Errorf("problems %v", s2.Problems())
	}
}

func TestAliasOptions(t *testing.T) {
	dir, _ := fixtures(t)
	for _, c := range []struct {
		aliases map[string]string
		class   error
	}{
		{map[string]string{"x": "nothing.tar"}, errdefs.ErrNotFound},
		{map[string]string{"x": "notes.txt"}, errdefs.ErrInvalidArgument},
		{map[string]string{"x": "0"}, errdefs.ErrNotFound}, // too short a prefix
		{map[string]string{"a,b": "debian.tar"}, errdefs.ErrInvalidArgument},
		{map[string]string{"a b": "debian.tar"}, errdefs.ErrInvalidArgument},
		{map[string]string{"": "debian.tar"}, errdefs.ErrInvalidArgument},
	} {
		_, err := imageserver.New(context.Background(), dir, imageserver.Options{Aliases: c.aliases})
		if !errors.Is(err, c.class) {
			t.Errorf("aliases %v: %v, want %v", c.aliases, err, c.class)
		}
	}
	// An explicit alias takes a file's name from the file's image.
	s := newServer(t, dir, imageserver.Options{Aliases: map[string]string{"debian": "alpine.squashfs"}, NoFileAliases: false})
	for _, img := range s.Images() {
		if slices.Contains(img.Aliases, "debian") != (img.Files[0] == "meta-alpine.tar") {
			t.Errorf("alias debian on %+v", img)
		}
	}
	s = newServer(t, dir, imageserver.Options{NoFileAliases: true})
	for _, img := range s.Images() {
		if len(img.Aliases) != 0 {
			t.Errorf("NoFileAliases: %+v", img)
		}
	}
	// Two images whose files give the same alias: neither has it.
	other := t.TempDir()
	for i, name := range []string{"same.tar", "same.tar.gz"} {
		if err := os.WriteFile(filepath.Join(other, name), tarball(t, "metadata.yaml", metadata("x86_64", "x", fmt.Sprint(i)), "rootfs/", ""), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s = newServer(t, other, imageserver.Options{})
	if len(s.Images()) != 2 || len(s.Images()[0].Aliases)+len(s.Images()[1].Aliases) != 0 || len(s.Problems()) != 1 {
		t.Errorf("images %+v, problems %v", s.Images(), s.Problems())
	}
}

func TestEmptyDirectory(t *testing.T) {
	s := newServer(t, t.TempDir(), imageserver.Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	_, index := get(t, ts, "/streams/v1/index.json")
	if !strings.Contains(string(index), `"products": []`) {
		t.Errorf("empty index: %s", index)
	}
	if _, err := imageserver.New(context.Background(), filepath.Join(t.TempDir(), "missing"), imageserver.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing directory: %v", err)
	}
}

// TestServeTLS serves over HTTPS with a certificate of NewCertificate and
// checks it as the daemons do: the certificate is the only root, and the
// name checked is its first DNS name.
func TestServeTLS(t *testing.T) {
	dir, _ := fixtures(t)
	s := newServer(t, dir, imageserver.Options{})
	certPEM, keyPEM, err := imageserver.NewCertificate("192.0.2.7", "images.example")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(leaf.DNSNames, "images.example") || !slices.Contains(leaf.DNSNames, "localhost") ||
		!slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("192.0.2.7")) }) {
		t.Errorf("names: %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeTLS(ctx, l, cert) }()
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, serverName := range []string{"", leaf.DNSNames[0]} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName}}}
		resp, err := c.Get("https://" + l.Addr().String() + imageserver.IndexPath)
		if err != nil {
			t.Fatalf("server name %q: %v", serverName, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("index over TLS: %d", resp.StatusCode)
		}
	}
	// Another certificate is refused.
	otherPEM, _, _ := imageserver.NewCertificate()
	otherRoots := x509.NewCertPool()
	otherRoots.AppendCertsFromPEM(otherPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: otherRoots}}}
	if _, err := c.Get("https://" + l.Addr().String() + imageserver.IndexPath); err == nil {
		t.Error("a client that trusts another certificate got through")
	}
	// Plain HTTP on the HTTPS port, as the daemons try first, is refused.
	resp, err := http.Get("http://" + l.Addr().String() + imageserver.IndexPath)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeTLS after cancel: %v", err)
	}
}

// TestOddNames serves files whose names would need escaping in a URL
// under plain names, and still gives their alias.
func TestOddNames(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"odd name (1).tar":     tarball(t, "metadata.yaml", metadata("x86_64", "x", "1"), "rootfs/", ""),
		"meta-é?#%.tar":        tarball(t, "metadata.yaml", metadata("x86_64", "x", "2")),
		"é?#%.squashfs":        append([]byte("hsqs"), make([]byte, 100)...),
		"newline\nname.tar.gz": []byte("x"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newServer(t, dir, imageserver.Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	_, products := get(t, ts, imageserver.ProductsPath)
	var ps imageserver.Products
	if err := json.Unmarshal(products, &ps); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range ps.Products {
		for _, v := range p.Versions {
			for _, it := range v.Items {
				if !slices.Contains(paths, it.Path) {
					paths = append(paths, it.Path)
				}
				if code, _ := get(t, ts, "/"+it.Path); code != http.StatusOK {
					t.Errorf("%s: %d", it.Path, code)
				}
			}
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		base := p[strings.LastIndex(p, "/")+1:]
		if base != "image.tar" && base != "meta.tar" && base != "rootfs.squashfs" {
			t.Errorf("served as %s", p)
		}
	}
	if len(paths) != 3 {
		t.Errorf("paths %v", paths)
	}
	for _, img := range s.Images() {
		if img.Files[0] == "odd name (1).tar" && len(img.Aliases) != 0 {
			t.Errorf("an alias with a space: %v", img.Aliases)
		}
		if img.Split() && !slices.Equal(img.Aliases, []string{"é?#%"}) {
			t.Errorf("split image's aliases %v", img.Aliases)
		}
	}
}
