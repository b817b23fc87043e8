package restapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// requestLog records the requests a client sends ("METHOD path status").
type requestLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *requestLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *requestLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *requestLog) WithGroup(string) slog.Handler            { return l }
func (l *requestLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	var parts []string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "method" || a.Key == "path" || a.Key == "status" {
			parts = append(parts, a.Value.String())
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, strings.Join(parts, " "))
	l.mu.Unlock()
	return nil
}

// count returns how many requests held all of words, and forgets them all.
func (l *requestLog) count(words ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			n++
		}
	}
	l.lines = nil
	return n
}

// container creates a stopped busybox container, deleted with the test:
// both the files API and SFTP serve stopped containers.
func container(t *testing.T, c *client.Client) string {
	t.Helper()
	ctx := testhost.Context(t, 2*time.Minute)
	name := testhost.Name("sftp")
	req := api.InstancesPost{Name: name, Source: api.InstanceSource{Type: "image", Alias: testhost.Image}}
	if _, err := c.Do(ctx, http.MethodPost, "/1.0/instances", req, ""); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = c.Do(ctx, http.MethodDelete, "/1.0/instances/"+name, nil, "")
	})
	return name
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// TestLargeFilesOverSFTP checks on each real daemon that large files go
// over SFTP and end up exactly as small ones do through the files API:
// the same content, mode and owner when created, the same kept mode and
// owner when overwritten, the same error classes.
func TestLargeFilesOverSFTP(t *testing.T) {
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			testhost.Connect(t, h) // skips when the daemon is down
			log := &requestLog{}
			c, err := client.New(context.Background(), h.Socket, client.WithLogger(slog.New(log)))
			if err != nil {
				t.Fatal(err)
			}
			tr := New(c, container(t, c))
			ctx := testhost.Context(t, 4*time.Minute)
			stat := func(p string) string {
				t.Helper()
				rc, info, err := c.GetFile(ctx, tr.name, p)
				if err != nil {
					t.Fatalf("stat %s: %v", p, err)
				}
				rc.Close()
				return fmt.Sprintf("%o %d %d %d", info.Mode, info.UID, info.GID, info.Size)
			}
			log.count()

			small := random(1000)
			large := random(2*sftpReadMin + 12345)
			owned := transport.FileOptions{Mode: 0o600, UID: transport.Int(1000), GID: transport.Int(1000)}
			for _, tc := range []struct {
				label string
				data  []byte
				sftp  bool
			}{{"small", small, false}, {"large", large, true}} {
				p := "/root/" + tc.label
				half := tc.data[:len(tc.data)/2]
				sftpWanted := 0
				if tc.sftp {
					sftpWanted = 1
				}

				// A new file gets the options' mode and owner.
				if err := tr.WriteFile(ctx, p, bytes.NewReader(tc.data), owned); err != nil {
					t.Fatalf("%s: write: %v", tc.label, err)
				}
				if n := log.count("/sftp", "101"); n != sftpWanted {
					t.Errorf("%s: write: %d SFTP sessions, want %d", tc.label, n, sftpWanted)
				}
				if s, want := stat(p), fmt.Sprintf("600 1000 1000 %d", len(tc.data)); s != want {
					t.Errorf("%s: new file: %s, want %s", tc.label, s, want)
				}
				// Overwriting replaces the content (shorter: truncated) and,
				// as the files API of LXD 5.0 and Incus 6.0 do, keeps the
				// file's mode and owner.
				if err := tr.WriteFile(ctx, p, bytes.NewReader(half), transport.FileOptions{}); err != nil {
					t.Fatalf("%s: overwrite: %v", tc.label, err)
				}
				if s, want := stat(p), fmt.Sprintf("600 1000 1000 %d", len(half)); s != want {
					t.Errorf("%s: overwritten file: %s, want %s", tc.label, s, want)
				}
				// Defaults: 0644, the transport's user.
				if err := tr.WriteFile(ctx, p+".default", bytes.NewReader(tc.data), transport.FileOptions{}); err != nil {
					t.Fatalf("%s: write: %v", tc.label, err)
				}
				if s, want := stat(p+".default"), fmt.Sprintf("644 0 0 %d", len(tc.data)); s != want {
					t.Errorf("%s: default mode and owner: %s, want %s", tc.label, s, want)
				}
				as := tr.As("1000", "1000")
				if err := as.WriteFile(ctx, p+".as", bytes.NewReader(tc.data), transport.FileOptions{}); err != nil {
					t.Fatalf("%s: write as 1000: %v", tc.label, err)
				}
				if s, want := stat(p+".as"), fmt.Sprintf("644 1000 1000 %d", len(tc.data)); s != want {
					t.Errorf("%s: written as 1000: %s, want %s", tc.label, s, want)
				}
				err := tr.WriteFile(ctx, "/no/such/dir/f", bytes.NewReader(tc.data), transport.FileOptions{})
				if !errors.Is(err, errdefs.ErrNotFound) {
					t.Errorf("%s: write into a missing directory: %v; want ErrNotFound", tc.label, err)
				}
				log.count()

				// Read back: whole (io.Copy, over SFTP when large) and by plain
				// Reads (the files API's stream).
				dst := filepath.Join(t.TempDir(), tc.label)
				if err := transport.DownloadFile(ctx, tr, p+".default", dst); err != nil {
					t.Fatalf("%s: download: %v", tc.label, err)
				}
				if n := log.count("/sftp", "101"); n != sftpWanted {
					t.Errorf("%s: download: %d SFTP sessions, want %d", tc.label, n, sftpWanted)
				}
				if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, tc.data) {
					t.Errorf("%s: downloaded %d bytes, differ (%v)", tc.label, len(got), err)
				}
				rc, err := tr.ReadFile(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(io.LimitReader(rc, int64(len(half))+1))
				rc.Close()
				if err != nil || !bytes.Equal(got, half) {
					t.Errorf("%s: read by Reads: %d bytes, differ (%v)", tc.label, len(got), err)
				}
			}
		})
	}
}

// cancelAfter is a reader with a length that cancels a context once n
// bytes have been read from it.
type cancelAfter struct {
	*bytes.Reader
	n      int
	cancel context.CancelFunc
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if r.n -= n; r.n <= 0 {
		r.cancel()
	}
	return n, err
}

// TestSFTPWriteEndsWithItsContext checks that a transfer stops when its
// context ends, with the context's error.
func TestSFTPWriteEndsWithItsContext(t *testing.T) {
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		tr := New(c, container(t, c))
		ctx, cancel := context.WithCancel(testhost.Context(t, 2*time.Minute))
		r := &cancelAfter{Reader: bytes.NewReader(make([]byte, 256<<20)), n: 8 << 20, cancel: cancel}
		start := time.Now()
		err := tr.WriteFile(ctx, "/root/cut", r, transport.FileOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled write: %v; want context.Canceled", err)
		}
		if r.Len() == 0 || time.Since(start) > 30*time.Second {
			t.Errorf("the write went on after its context ended (%d bytes left, %s)", r.Len(), time.Since(start))
		}
	})
}

// fakeFiles is a daemon with a files API and no SFTP, as an older one. Its
// /sftp endpoint answers with sftpAnswer.
type fakeFiles struct {
	mu    sync.Mutex
	files map[string][]byte
	modes map[string]string
}

func (f *fakeFiles) serve(t *testing.T, sftpAnswer http.HandlerFunc) *client.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "unix.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f.files, f.modes = map[string][]byte{}, map[string]string{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/1.0":
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"environment":{"server":"lxd","server_version":"4.0.9"}}}`))
		case r.URL.Path == "/1.0/instances/c1/sftp":
			sftpAnswer(w, r)
		case r.URL.Path == "/1.0/instances/c1/files" && r.Method == http.MethodPost:
			data, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.files[r.URL.Query().Get("path")] = data
			f.modes[r.URL.Query().Get("path")] = r.Header.Get("X-LXD-mode") + " " + r.Header.Get("X-LXD-uid") + " " + r.Header.Get("X-LXD-gid")
			f.mu.Unlock()
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{}}`))
		case r.URL.Path == "/1.0/instances/c1/files" && r.Method == http.MethodGet:
			f.mu.Lock()
			data, ok := f.files[r.URL.Query().Get("path")]
			f.mu.Unlock()
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"type":"error","error_code":404,"error":"not found"}`))
				return
			}
			w.Header().Set("X-LXD-type", "file")
			w.Header().Set("X-LXD-mode", "0644")
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data)
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"type":"error","error_code":404,"error":"not found"}`))
		}
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := client.New(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNoSFTPFallsBackToFilesAPI checks that large files still move, through
// the files API, when the daemon offers no SFTP: it refuses the upgrade
// (an older daemon), or upgrades and then speaks no SFTP.
func TestNoSFTPFallsBackToFilesAPI(t *testing.T) {
	answers := map[string]http.HandlerFunc{
		"refused": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"type":"error","error_code":404,"error":"not found"}`))
		},
		"not sftp": func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: sftp\r\n\r\nnot sftp")
			buf.Flush()
			conn.Close()
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			var f fakeFiles
			tr := New(f.serve(t, answer), "c1")
			ctx := testhost.Context(t, time.Minute)
			data := random(2*sftpReadMin + 1)
			if err := tr.WriteFile(ctx, "/big", bytes.NewReader(data), transport.FileOptions{Mode: 0o600}); err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(f.files["/big"], data) || f.modes["/big"] != "0600 0 0" {
				t.Errorf("the files API got %d bytes, mode and owner %q", len(f.files["/big"]), f.modes["/big"])
			}
			dst := filepath.Join(t.TempDir(), "big")
			if err := transport.DownloadFile(ctx, tr, "/big", dst); err != nil {
				t.Fatalf("download: %v", err)
			}
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes, differ", len(got))
			}
		})
	}
}
