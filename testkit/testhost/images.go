package testhost

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/imageserver"
	"go.yaml.in/yaml/v3"
)

// ImageTarball is the busybox test image as `make hosts` built and
// imported it: its SHA-256 is the fingerprint of Image on both daemons.
var ImageTarball = "/var/cache/lxkit/testimage-busybox-v1.tar.xz"

var baseImage = sync.OnceValues(func() ([]byte, error) {
	out, err := exec.Command("xz", "-dc", ImageTarball).Output()
	if err != nil {
		return nil, errors.New("decompressing " + ImageTarball + ": " + err.Error())
	}
	return out, nil
})

// ImageFiles are the files of an image made by NewImageFiles.
type ImageFiles struct {
	// Files are the unified tarball, or the metadata file then the rootfs.
	Files []string
	// Fingerprint is the SHA-256 of the files one after the other, as the
	// daemons compute it.
	Fingerprint string
	// Unique is the value of the image's property lxkit.test, which no
	// other image has.
	Unique string
}

// NewImageFiles writes a new busybox image into dir, as name.tar.gz or,
// with split, as meta-name.tar.gz and name.tar.gz. It is the test image
// with a property lxkit.test of a fresh random value, so its fingerprint
// is new and no daemon has it: pulling or importing it really moves it.
// It fails the test (skips outside CI) without the test image's tarball.
func NewImageFiles(t testing.TB, dir, name string, split bool) ImageFiles {
	t.Helper()
	base, err := baseImage()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	unique := hex.EncodeToString(b)

	var meta, root, unified bytes.Buffer
	metaW, rootW, unifiedW := newTarGz(&meta), newTarGz(&root), newTarGz(&unified)
	tr := tar.NewReader(bytes.NewReader(base))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entry := strings.TrimPrefix(hdr.Name, "./")
		if entry == "metadata.yaml" {
			data = newMetadata(t, data, unique)
			hdr.Size = int64(len(data))
		}
		unifiedW.add(t, hdr, data)
		if rest, ok := strings.CutPrefix(entry, "rootfs/"); ok && rest != "" {
			h := *hdr
			h.Name = rest
			rootW.add(t, &h, data)
		} else if entry != "rootfs" && entry != "rootfs/" {
			metaW.add(t, hdr, data)
		}
	}
	write := func(file string, w *tarGz) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, w.close(t), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var img ImageFiles
	if split {
		img.Files = []string{write("meta-"+name+".tar.gz", metaW), write(name+".tar.gz", rootW)}
	} else {
		img.Files = []string{write(name+".tar.gz", unifiedW)}
	}
	h := sha256.New()
	for _, f := range img.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data)
	}
	img.Fingerprint = hex.EncodeToString(h.Sum(nil))
	img.Unique = unique
	return img
}

// newMetadata is the test image's metadata.yaml with a new creation date
// and the property lxkit.test.
func newMetadata(t testing.TB, data []byte, unique string) []byte {
	var md map[string]any
	if err := yaml.Unmarshal(data, &md); err != nil {
		t.Fatal(err)
	}
	md["creation_date"] = time.Now().Unix()
	props, _ := md["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	props["lxkit.test"] = unique
	props["description"] = "lxkit test image " + unique
	md["properties"] = props
	out, err := yaml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type tarGz struct {
	buf *bytes.Buffer
	zw  *gzip.Writer
	tw  *tar.Writer
}

func newTarGz(buf *bytes.Buffer) *tarGz {
	zw := gzip.NewWriter(buf)
	return &tarGz{buf: buf, zw: zw, tw: tar.NewWriter(zw)}
}

func (w *tarGz) add(t testing.TB, hdr *tar.Header, data []byte) {
	if err := w.tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := w.tw.Write(data); err != nil {
		t.Fatal(err)
	}
}

func (w *tarGz) close(t testing.TB) []byte {
	if err := w.tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.zw.Close(); err != nil {
		t.Fatal(err)
	}
	return w.buf.Bytes()
}

// ImageServer is a simplestreams server that a test started.
type ImageServer struct {
	*imageserver.Server
	// URL is where the daemons on this machine reach it: loopback, a free
	// port and a path of its own, so that no daemon's cache of another
	// server's index (kept an hour, by URL) can stand in for it.
	URL string
	// Certificate is its self-signed certificate, PEM.
	Certificate string
}

// ServeImages serves the images in dir over HTTPS on loopback until the
// test ends.
func ServeImages(t testing.TB, dir string, opts imageserver.Options) *ImageServer {
	t.Helper()
	return ServeImagesOn(t, "127.0.0.1:0", dir, opts)
}

// ServeImagesOn is ServeImages on addr (HOST:PORT), e.g. a bridge's
// address for the daemons in containers.
func ServeImagesOn(t testing.TB, addr, dir string, opts imageserver.Options) *ImageServer {
	t.Helper()
	s, err := imageserver.New(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := imageserver.NewCertificate(host)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "/lxkit-test-" + hex.EncodeToString(b)
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, s))
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return &ImageServer{Server: s, URL: "https://" + l.Addr().String() + prefix, Certificate: string(certPEM)}
}
