package testhost

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/imageserver"
)

// HostileOptions are the faults of a HostileImages server.
type HostileOptions struct {
	// Edit changes the products document (streams/v1/images.json) before
	// it is served; the index still names it.
	Edit func(*imageserver.Products)
	// Endless is the path (IndexPath, ProductsPath or a file's) whose
	// answer never ends: the good bytes, then spaces forever, at Rate
	// bytes a second (0: as fast as the client reads, up to Cap, after
	// which the stream stalls without ending).
	Endless string
	Rate    int
	// Cap bounds what an endless answer sends as fast as it can, so that
	// a daemon that keeps it all in memory is not starved; zero means
	// EndlessCap.
	Cap int
	// Files answers extra paths with their bytes: what a hostile index
	// points at. A path is the request's without the server's prefix, or
	// as it came when it has left the prefix ("../.." in an item's path).
	Files map[string][]byte
	// Body changes an image file's bytes as they are sent (path without
	// the prefix).
	Body func(path string, data []byte) []byte
	// DaemonOnly keeps the faults for the daemons' requests (their
	// User-Agent starts with LXD or Incus): anyone else, lxkit's own
	// check of the index among them, sees the good server.
	DaemonOnly bool
}

// EndlessCap is HostileOptions.Cap's default.
const EndlessCap = 64 << 20

// HostileImages is a simplestreams server that lies, for tests: it serves
// the images of a directory as package imageserver does, with the faults
// of its HostileOptions, and records every request. It stops when the
// test ends, which also ends its endless answers.
type HostileImages struct {
	// URL is where the daemons on this machine reach it: loopback, a path
	// of its own (see ImageServer.URL).
	URL string
	// Certificate is its self-signed certificate, PEM.
	Certificate string
	// Good is the same directory served honestly.
	Good *imageserver.Server
	// Token is the release of every product the server offers: an image
	// pulled from it has the property release=Token.
	Token string

	srv    *http.Server
	prefix string
	opts   HostileOptions
	docs   map[string][]byte // the documents as served to the victims
	mu     sync.Mutex
	reqs   []HostileRequest
}

// HostileRequest is one request a HostileImages answered.
type HostileRequest struct {
	Path      string // without the server's prefix (see HostileOptions.Files)
	UserAgent string
}

// FromDaemon reports whether a daemon (LXD or Incus) sent the request.
func (r HostileRequest) FromDaemon() bool {
	return strings.HasPrefix(r.UserAgent, "LXD") || strings.HasPrefix(r.UserAgent, "Incus")
}

// ServeHostileImages serves the images in dir with the faults of opts,
// over HTTPS on loopback, until the test ends.
func ServeHostileImages(t testing.TB, dir string, opts HostileOptions) *HostileImages {
	t.Helper()
	good, err := imageserver.New(context.Background(), dir, imageserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { good.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	h := &HostileImages{Good: good, opts: opts, docs: map[string][]byte{}, Token: "lxkit-hostile-" + hex.EncodeToString(b)}
	index, products := document(t, good, imageserver.IndexPath), document(t, good, imageserver.ProductsPath)
	var p imageserver.Products
	if err := json.Unmarshal(products, &p); err != nil {
		t.Fatal(err)
	}
	for id, prod := range p.Products {
		prod.Release, prod.ReleaseTitle = h.Token, h.Token
		p.Products[id] = prod
	}
	if opts.Edit != nil {
		opts.Edit(&p)
	}
	if products, err = json.MarshalIndent(p, "", "  "); err != nil {
		t.Fatal(err)
	}
	h.docs[imageserver.IndexPath], h.docs[imageserver.ProductsPath] = index, products

	certPEM, keyPEM, err := imageserver.NewCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.prefix = "/" + h.Token
	h.srv = &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = h.srv.ServeTLS(l, "", "") }()
	t.Cleanup(h.Close)
	h.URL = "https://" + l.Addr().String() + h.prefix
	h.Certificate = string(certPEM)
	return h
}

// document is one of the good server's documents.
func document(t testing.TB, s *imageserver.Server, path string) []byte {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("the image server answered %s with %d", path, rec.Code)
	}
	return rec.Body.Bytes()
}

// Close stops the server and ends its answers, endless ones included.
func (h *HostileImages) Close() { _ = h.srv.Close() }

// Requests returns the requests answered so far.
func (h *HostileImages) Requests() []HostileRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HostileRequest(nil), h.reqs...)
}

// DaemonRequests returns the paths a daemon asked for so far.
func (h *HostileImages) DaemonRequests() []string {
	var paths []string
	for _, r := range h.Requests() {
		if r.FromDaemon() {
			paths = append(paths, r.Path)
		}
	}
	return paths
}

func (h *HostileImages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		p = r.URL.Path // a path that escaped the prefix: recorded as it came
	}
	rec := HostileRequest{Path: p, UserAgent: r.UserAgent()}
	h.mu.Lock()
	h.reqs = append(h.reqs, rec)
	h.mu.Unlock()
	if h.opts.DaemonOnly && !rec.FromDaemon() {
		h.Good.ServeHTTP(w, withPath(r, p))
		return
	}
	if p == h.opts.Endless {
		h.endless(w, r, p)
		return
	}
	if doc, ok := h.docs[p]; ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
		return
	}
	if data, ok := h.opts.Files[p]; ok {
		_, _ = w.Write(data)
		return
	}
	if h.opts.Body == nil {
		h.Good.ServeHTTP(w, withPath(r, p))
		return
	}
	good := httptest.NewRecorder()
	h.Good.ServeHTTP(good, withPath(r, p))
	if good.Code != http.StatusOK {
		w.WriteHeader(good.Code)
		return
	}
	data := h.opts.Body(p, good.Body.Bytes())
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// endless sends the good answer for p, then spaces until the client or
// the server goes.
func (h *HostileImages) endless(w http.ResponseWriter, r *http.Request, p string) {
	good := httptest.NewRecorder()
	h.Good.ServeHTTP(good, withPath(r, p))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(good.Body.Bytes())
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = ' '
	}
	if h.opts.Rate > 0 && h.opts.Rate < len(chunk) {
		chunk = chunk[:h.opts.Rate]
	}
	flusher, _ := w.(http.Flusher)
	limit := h.opts.Cap
	if limit == 0 {
		limit = EndlessCap
	}
	var sent int
	for r.Context().Err() == nil {
		if h.opts.Rate == 0 && sent >= limit {
			<-r.Context().Done()
			return
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		sent += len(chunk)
		if h.opts.Rate > 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Duration(len(chunk)) * time.Second / time.Duration(h.opts.Rate)):
			}
		}
	}
}

func withPath(r *http.Request, p string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path = p
	return r2
}
