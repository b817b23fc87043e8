package host

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/imageserver"
)

const (
	fpA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fpB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	fpC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// fakeStream is a simplestreams server of handmade documents: one unified
// image "web" (fpA, 10 bytes) and one split image "db" (meta fpB, rootfs
// fpC), which a case edits.
type fakeStream struct {
	index    map[string]any
	products map[string]any
	sizes    map[string]int // what the server sends of each file
	raw      map[string]func(w http.ResponseWriter, r *http.Request)
	heads    atomic.Int32
	sent     atomic.Int64 // by endless answers
}

func newFakeStream() *fakeStream {
	item := func(ftype, path, sha string, size int) map[string]any {
		return map[string]any{"ftype": ftype, "path": path, "sha256": sha, "size": size}
	}
	meta := item("lxd.tar.xz", "images/db/meta.tar.xz", fpB, 4)
	meta["combined_sha256"], meta["combined_rootxz_sha256"] = fpA[:10]+fpC[10:], fpA[:10]+fpC[10:]
	return &fakeStream{
		index: map[string]any{"format": "index:1.0", "index": map[string]any{
			"images":  map[string]any{"datatype": "image-downloads", "path": "streams/v1/images.json", "products": []string{"web", "db"}},
			"ignored": map[string]any{"datatype": "other", "path": "../not/read.json", "products": []string{"x"}},
		}},
		products: map[string]any{"products": map[string]any{
			"web": map[string]any{"aliases": "web,web/1", "arch": "amd64", "versions": map[string]any{
				"20240101_0000": map[string]any{"items": map[string]any{"lxd_combined.tar.gz": item("lxd_combined.tar.gz", "images/web/old.tar.gz", fpA, 10)}},
				"20240202_0000": map[string]any{"items": map[string]any{"lxd_combined.tar.gz": item("lxd_combined.tar.gz", "images/web/new.tar.gz", fpA, 10)}},
			}},
			"db": map[string]any{"aliases": "db", "arch": "amd64", "versions": map[string]any{
				"20240101_0000": map[string]any{"items": map[string]any{
					"lxd.tar.xz":  meta,
					"root.tar.xz": item("root.tar.xz", "images/db/root.tar.xz", fpC, 6),
				}},
			}},
		}},
		sizes: map[string]int{"/images/web/old.tar.gz": 10, "/images/web/new.tar.gz": 10, "/images/db/meta.tar.xz": 4, "/images/db/root.tar.xz": 6},
		raw:   map[string]func(http.ResponseWriter, *http.Request){},
	}
}

// item returns an item of the documents, to edit.
func (f *fakeStream) item(product, version, ftype string) map[string]any {
	p := f.products["products"].(map[string]any)[product].(map[string]any)
	return p["versions"].(map[string]any)[version].(map[string]any)["items"].(map[string]any)[ftype].(map[string]any)
}

func (f *fakeStream) serve(t *testing.T) ImageServer {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/base")
		if h, ok := f.raw[p]; ok {
			h(w, r)
			return
		}
		switch p {
		case "/streams/v1/index.json":
			json.NewEncoder(w).Encode(f.index)
		case "/streams/v1/images.json":
			json.NewEncoder(w).Encode(f.products)
		default:
			n, ok := f.sizes[p]
			if !ok {
				http.NotFound(w, r)
				return
			}
			if r.Method == http.MethodHead {
				f.heads.Add(1)
			}
			w.Header().Set("Content-Length", strconv.Itoa(n))
			w.Write(make([]byte, n))
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return ImageServer{URL: srv.URL + "/base/", Certificate: string(cert), Stall: 2 * time.Second}
}

// endless answers with spaces until the client goes, at rate bytes a
// second (0: as fast as it reads).
func (f *fakeStream) endless(rate int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"index": {}}`))
		chunk := []byte(strings.Repeat(" ", 32<<10))
		if rate > 0 {
			chunk = chunk[:rate/10]
		}
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			f.sent.Add(int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
			if rate > 0 {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

func TestCheckIndex(t *testing.T) {
	for _, c := range []struct {
		name  string
		ref   string
		edit  func(f *fakeStream)
		class error
		says  string
		heads int32
	}{
		{name: "good, by alias: the newest version's file", ref: "web", heads: 1},
		{name: "good, by alias and architecture", ref: "web/amd64", heads: 1},
		{name: "good, split, by fingerprint prefix", ref: "aaaaaaaaaacc", heads: 2},
		{name: "good, an image the server lacks: the daemon says so", ref: "nothing", heads: 0},
		{name: "good, an item's type is its ftype, not its key", ref: "web", heads: 1, edit: func(f *fakeStream) {
			items := f.products["products"].(map[string]any)["web"].(map[string]any)["versions"].(map[string]any)["20240202_0000"].(map[string]any)["items"].(map[string]any)
			items["anything"] = items["lxd_combined.tar.gz"]
			delete(items, "lxd_combined.tar.gz")
		}},
		{name: "dot-dot", ref: "web", edit: func(f *fakeStream) {
			f.item("web", "20240101_0000", "lxd_combined.tar.gz")["path"] = "../../etc/passwd"
		},
			class: errdefs.ErrIntegrity, says: `path "../../etc/passwd" has a ".." element`},
		{name: "dot-dot inside", ref: "db", edit: func(f *fakeStream) { f.item("db", "20240101_0000", "root.tar.xz")["path"] = "images/../../x" },
			class: errdefs.ErrIntegrity, says: `".." element`},
		{name: "absolute", ref: "web", edit: func(f *fakeStream) { f.item("web", "20240202_0000", "lxd_combined.tar.gz")["path"] = "/etc/passwd" },
			class: errdefs.ErrIntegrity, says: `path "/etc/passwd" is absolute`},
		{name: "a URL for a path", ref: "web", edit: func(f *fakeStream) {
			f.item("web", "20240202_0000", "lxd_combined.tar.gz")["path"] = "https://elsewhere.example/x"
		}, class: errdefs.ErrIntegrity, says: "not a clean relative path"},
		{name: "backslash", ref: "web", edit: func(f *fakeStream) { f.item("web", "20240202_0000", "lxd_combined.tar.gz")["path"] = `images\..\x` },
			class: errdefs.ErrIntegrity, says: "backslash"},
		{name: "the index's own path", ref: "web", edit: func(f *fakeStream) {
			f.index["index"].(map[string]any)["images"].(map[string]any)["path"] = "../images.json"
		}, class: errdefs.ErrIntegrity, says: `index "images": path "../images.json"`},
		{name: "a fingerprint that is a path", ref: "web", edit: func(f *fakeStream) {
			f.item("web", "20240101_0000", "lxd_combined.tar.gz")["sha256"] = "../../../../tmp/victim"
		}, class: errdefs.ErrIntegrity, says: `sha256 "../../../../tmp/victim" is not a SHA-256`},
		{name: "a combined fingerprint that is a path", ref: "db", edit: func(f *fakeStream) {
			f.item("db", "20240101_0000", "lxd.tar.xz")["combined_rootxz_sha256"] = "../../x"
		}, class: errdefs.ErrIntegrity, says: `combined_rootxz_sha256 "../../x"`},
		{name: "a short fingerprint", ref: "db", edit: func(f *fakeStream) { f.item("db", "20240101_0000", "lxd.tar.xz")["combined_sha256"] = "8eee" },
			class: errdefs.ErrIntegrity, says: "not a SHA-256"},
		{name: "upper case", ref: "db", edit: func(f *fakeStream) { f.item("db", "20240101_0000", "root.tar.xz")["sha256"] = strings.ToUpper(fpC) },
			class: errdefs.ErrIntegrity, says: "not a SHA-256"},
		{name: "no hash", ref: "db", edit: func(f *fakeStream) { delete(f.item("db", "20240101_0000", "root.tar.xz"), "sha256") },
			class: errdefs.ErrIntegrity, says: "no sha256 for a root.tar.xz"},
		{name: "a negative size", ref: "web", edit: func(f *fakeStream) { f.item("web", "20240101_0000", "lxd_combined.tar.gz")["size"] = -1 },
			class: errdefs.ErrIntegrity, says: "size -1 is not a number of bytes"},
		{name: "a size that is no integer", ref: "web", edit: func(f *fakeStream) { f.item("web", "20240101_0000", "lxd_combined.tar.gz")["size"] = 1.5 },
			class: errdefs.ErrIntegrity, says: "not a JSON document"},
		{name: "a size that lies low", ref: "web", edit: func(f *fakeStream) { f.item("web", "20240202_0000", "lxd_combined.tar.gz")["size"] = 1 },
			class: errdefs.ErrIntegrity, says: "images/web/new.tar.gz: the server sends 10 bytes, its index says 1"},
		{name: "a file with more bytes", ref: "db", edit: func(f *fakeStream) { f.sizes["/images/db/root.tar.xz"] = 7 },
			class: errdefs.ErrIntegrity, says: "sends 7 bytes, its index says 6"},
		{name: "a size that lies in an image not asked for", ref: "db", heads: 2,
			edit: func(f *fakeStream) { f.item("web", "20240202_0000", "lxd_combined.tar.gz")["size"] = 1 }},
		{name: "a missing file", ref: "web", edit: func(f *fakeStream) { delete(f.sizes, "/images/web/new.tar.gz") },
			class: errdefs.ErrNotFound, says: "images/web/new.tar.gz, which its index names, is not there"},
		{name: "no index", ref: "web", edit: func(f *fakeStream) { f.raw["/streams/v1/index.json"] = http.NotFound },
			class: errdefs.ErrNotFound, says: "streams/v1/index.json answered 404"},
		{name: "trailing garbage", ref: "web", edit: func(f *fakeStream) {
			f.raw["/streams/v1/images.json"] = func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"products": {}} {"x": 1}`)) }
		}, class: errdefs.ErrIntegrity, says: "streams/v1/images.json: not a JSON document"},
		{name: "an index that never ends, fast", ref: "web", edit: func(f *fakeStream) { f.raw["/streams/v1/index.json"] = f.endless(0) },
			class: errdefs.ErrIntegrity, says: "streams/v1/index.json: it does not end within 4194304 bytes"},
		{name: "an index that never ends, slowly", ref: "web", edit: func(f *fakeStream) { f.raw["/streams/v1/index.json"] = f.endless(4096) },
			class: errdefs.ErrUnavailable, says: "streams/v1/index.json did not come whole within 2s"},
		{name: "an index that never comes", ref: "web", edit: func(f *fakeStream) {
			f.raw["/streams/v1/index.json"] = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
		}, class: errdefs.ErrUnavailable, says: "did not come whole within 2s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeStream()
			if c.edit != nil {
				c.edit(f)
			}
			src := f.serve(t)
			start := time.Now()
			err := checkIndex(context.Background(), src, c.ref)
			took := time.Since(start)
			if c.class == nil {
				if err != nil || f.heads.Load() != c.heads {
					t.Fatalf("checkIndex(%s) = %v after %d HEADs; want nil after %d", c.ref, err, f.heads.Load(), c.heads)
				}
				return
			}
			if !errors.Is(err, c.class) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), src.URL) {
				t.Fatalf("checkIndex(%s) = %v; want %v saying %q and the server's URL", c.ref, err, c.class, c.says)
			}
			if took > src.Stall+time.Second {
				t.Errorf("refused after %s, more than the stall bound %s", took, src.Stall)
			}
			// The check stops reading at its bound: the server got out
			// little more (what the sockets' buffers hold).
			if sent := f.sent.Load(); sent > MaxIndexSize+16<<20 {
				t.Errorf("the server sent %d MiB of an endless answer", sent>>20)
			}
			t.Logf("%v (%s)", err, took.Round(time.Millisecond))
		})
	}
}

// TestCheckIndexCertificate: a server whose certificate is not the one
// given, or that lxkit cannot reach, is refused before anything is read.
func TestCheckIndexCertificate(t *testing.T) {
	src := newFakeStream().serve(t)
	other, _, err := imageserver.NewCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	src.Certificate = string(other)
	err = checkIndex(context.Background(), src, "web")
	if !errors.Is(err, errdefs.ErrCertificate) || !strings.Contains(err.Error(), "lxkit could not verify its certificate") {
		t.Errorf("another server's certificate: %v", err)
	}
	src.Certificate = ""
	if err := checkIndex(context.Background(), src, "web"); !errors.Is(err, errdefs.ErrCertificate) {
		t.Errorf("no certificate for a self-signed server: %v", err)
	}
	src = ImageServer{URL: "https://127.0.0.1:1/x", Stall: time.Second}
	if err := checkIndex(context.Background(), src, "web"); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "skip the check") {
		t.Errorf("a server lxkit cannot reach: %v", err)
	}
}
