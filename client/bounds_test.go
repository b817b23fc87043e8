package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/hostile"
	"github.com/pkg/sftp"
)

// The bounds must not cut what is legitimately long: operation waits
// (long polls), files read or written slowly by the caller, SFTP
// sessions. And each still ends a daemon that stops.

// shortTimeout is the response timeout of these tests: short, yet
// long beside the pauses a loaded test machine makes.
const shortTimeout = time.Second

func TestWaitAsksForHalfTheResponseTimeout(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{{nil, "15"}, {[]Option{WithResponseTimeout(shortTimeout)}, "1"}, {[]Option{WithResponseTimeout(0)}, "30"}, {[]Option{WithResponseTimeout(10 * time.Minute)}, "30"}} {
		asked := make(chan string, 1)
		sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
			asked <- r.URL.Query().Get("timeout")
			w.Write([]byte(`{"type":"sync","metadata":{"id":"op1","status_code":200}}`))
		})
		c, err := New(context.Background(), sock, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(context.Background(), &api.Operation{ID: "op1", StatusCode: api.OperationRunning}); err != nil {
			t.Fatal(err)
		}
		if got := <-asked; got != tc.want {
			t.Errorf("response timeout %s: wait?timeout=%s, want %s", c.respTimeout, got, tc.want)
		}
	}
}

func TestLongPollGetsItsTime(t *testing.T) {
	// The daemon holds a wait for the time asked, which may be longer than
	// the response timeout; one that holds it longer still is stopped.
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		held, _ := time.ParseDuration(r.URL.Query().Get("timeout") + "s")
		if r.URL.Query().Get("silent") != "" {
			held = time.Hour
		}
		select {
		case <-time.After(held):
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(`{"type":"sync","metadata":{"id":"op1","status_code":103}}`))
	})
	c, err := New(context.Background(), sock, WithResponseTimeout(shortTimeout))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Query(context.Background(), http.MethodGet, "/1.0/operations/op1/wait?timeout=2.5", nil, nil); err != nil {
		t.Fatalf("a wait of 2.5 s with a response timeout of 1 s: %v", err)
	}
	if took := time.Since(start); took < 2500*time.Millisecond {
		t.Fatalf("the wait took %s", took)
	}
	start = time.Now()
	_, err = c.Query(context.Background(), http.MethodGet, "/1.0/operations/op1/wait?timeout=1&silent=1", nil, nil)
	wantError(t, err, errdefs.ErrUnavailable, "no answer to GET /1.0/operations/op1/wait within 2s")
	if took := time.Since(start); took < 2*time.Second || took > 4*time.Second {
		t.Errorf("the silent wait ended after %s, want 2s", took)
	}
}

func TestIncusWaitGetsItsTimeToo(t *testing.T) {
	// Incus 6.0.4 sends the headers of an operation wait at once and its
	// body when the wait ends: the body gets the time asked for too.
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		held, _ := time.ParseDuration(r.URL.Query().Get("timeout") + "s")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-time.After(held):
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(`{"type":"error","error":"context deadline exceeded","error_code":500}`))
	})
	c, err := New(context.Background(), sock, WithResponseTimeout(shortTimeout), WithReadTimeout(shortTimeout))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(context.Background(), http.MethodGet, "/1.0/operations/op1/wait?timeout=2.5", nil, nil)
	if !errors.Is(err, errdefs.ErrInternal) || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("a wait of 2.5 s whose body came at its end: %v, want the daemon's answer", err)
	}
}

// slowFile serves GET .../files with its first half at once and the
// second after a pause, and then, with ?stall, nothing more.
func slowFile(pause time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-LXD-Type", "file")
		w.Write(bytes.Repeat([]byte("a"), 1024))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(pause):
		case <-r.Context().Done():
			return
		}
		w.Write(bytes.Repeat([]byte("b"), 1024))
		if strings.Contains(r.URL.RawQuery, "stall") {
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}
}

func TestFileReadsAreBoundedWhileReading(t *testing.T) {
	sock := fakeDaemon(t, slowFile(shortTimeout/2))
	c, err := New(context.Background(), sock, WithResponseTimeout(shortTimeout))
	if err != nil {
		t.Fatal(err)
	}
	// The caller may take its time between reads.
	rc, _, err := c.GetFile(context.Background(), "c1", "/f")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * shortTimeout)
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(data) != 2048 {
		t.Fatalf("a file read after a pause of the caller: %d bytes, %v", len(data), err)
	}
	// A daemon that stops sending is not waited for.
	rc, _, err = c.GetFile(context.Background(), "c1", "/f&stall")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	start := time.Now()
	data, err = io.ReadAll(rc)
	wantError(t, err, errdefs.ErrUnavailable, sock, "GET /1.0/instances/c1/files stalled: nothing moved for 1s")
	if took := time.Since(start); len(data) != 2048 || took > shortTimeout+shortTimeout/2+2*time.Second {
		t.Errorf("read %d bytes in %s before the stall was noticed", len(data), took)
	}
}

// slowReader gives two pieces with a pause between them.
type slowReader struct {
	pieces [][]byte
	pause  time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces = r.pieces[1:]
	if len(r.pieces) > 0 {
		time.Sleep(r.pause)
	}
	return n, nil
}

func TestFileWritesAreBoundedWhileSending(t *testing.T) {
	var got sync.Map
	stop := make(chan struct{})
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "stuck") {
			<-stop // takes nothing: a stopped daemon, until the test ends
			return
		}
		data, _ := io.ReadAll(r.Body)
		got.Store(r.URL.Query().Get("path"), len(data))
		w.Write([]byte(`{"type":"sync","metadata":{}}`))
	})
	t.Cleanup(func() { close(stop) }) // before the server closes
	c, err := New(context.Background(), sock, WithResponseTimeout(shortTimeout))
	if err != nil {
		t.Fatal(err)
	}
	// A caller whose data comes slowly is not cut.
	src := &slowReader{pieces: [][]byte{[]byte("first "), []byte("second")}, pause: 2 * shortTimeout}
	if err := c.PutFile(context.Background(), "c1", "/slow", src, FilePut{UID: -1, GID: -1}); err != nil {
		t.Fatalf("a slow source: %v", err)
	}
	if n, _ := got.Load("/slow"); n != 12 {
		t.Fatalf("the daemon got %v bytes", n)
	}
	// A daemon that stops taking the data is not waited for.
	start := time.Now()
	err = c.PutFile(context.Background(), "c1", "/stuck", io.LimitReader(zeros{}, 256<<20), FilePut{UID: -1, GID: -1})
	wantError(t, err, errdefs.ErrUnavailable, sock, "POST /1.0/instances/c1/files stalled: nothing moved for 1s")
	if took := time.Since(start); took > shortTimeout+2*time.Second {
		t.Errorf("the stall was noticed after %s", took)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// sftpDaemon upgrades GET .../sftp to an in-memory SFTP server whose
// connection serve wraps (nil: a server that never answers).
func sftpDaemon(t *testing.T, tr string, wrap func(io.ReadWriteCloser) io.ReadWriteCloser) *hostile.Server {
	return hostile.Serve(t, tr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: sftp\r\nConnection: Upgrade\r\n\r\n")
		buf.Flush()
		rwc := struct {
			io.Reader
			io.WriteCloser
		}{buf, conn}
		if wrap == nil {
			io.Copy(io.Discard, rwc)
			return
		}
		srv := sftp.NewRequestServer(wrap(rwc), sftp.InMemHandler())
		srv.Serve()
		srv.Close()
	}))
}

// freezing stops reading after left bytes, as a daemon stopped
// mid-transfer, until it is closed or thawed.
type freezing struct {
	io.ReadWriteCloser
	left   int
	closed chan struct{}
	once   sync.Once
	thaw   <-chan struct{}
}

func (f *freezing) Read(p []byte) (int, error) {
	if f.left <= 0 {
		select {
		case <-f.closed:
		case <-f.thaw:
		}
		return 0, io.EOF
	}
	n, err := f.ReadWriteCloser.Read(p[:min(len(p), f.left)])
	f.left -= n
	return n, err
}

func (f *freezing) Close() error {
	f.once.Do(func() { close(f.closed) })
	return f.ReadWriteCloser.Close()
}

func TestSFTPStalls(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 4<<20)
	for _, tr := range hostile.Transports {
		t.Run(tr, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var servers []*hostile.Server
			var clients []*Client
			thaw := make(chan struct{})
			defer func() {
				close(thaw) // the frozen server's handler ends
				for _, s := range servers {
					s.Close()
				}
				for _, c := range clients {
					c.CloseIdleConnections()
				}
				settled(t, before)
			}()
			connect := func(s *hostile.Server) *Client {
				servers = append(servers, s)
				opts := []Option{WithResponseTimeout(shortTimeout)}
				if s.Cert != nil {
					opts = append(opts, WithTLS(TLSOptions{ServerCert: s.Cert}))
				}
				c, err := New(context.Background(), s.Addr, opts...)
				if err != nil {
					t.Fatal(err)
				}
				clients = append(clients, c)
				return c
			}
			// A session that works, slowly used: idle time is not a stall.
			s := sftpDaemon(t, tr, func(rwc io.ReadWriteCloser) io.ReadWriteCloser { return rwc })
			sess, err := connect(s).SFTP(context.Background(), "c1", SFTPOptions{WritePacket: 128 << 10})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * shortTimeout)
			if err := sess.PutFile("/f", bytes.NewReader(data), FilePut{UID: -1, GID: -1}); err != nil {
				t.Fatalf("put after an idle while: %v", err)
			}
			sess.Close()

			// No answer to the handshake.
			s = sftpDaemon(t, tr, nil)
			start := time.Now()
			_, err = connect(s).SFTP(context.Background(), "c1", SFTPOptions{})
			wantError(t, err, errdefs.ErrUnavailable, s.Addr, "the SFTP session with c1 stalled: no answer for 1s")
			if took := time.Since(start); took > shortTimeout+2*time.Second {
				t.Errorf("the silent handshake took %s", took)
			}

			// Stopped mid-transfer.
			s = sftpDaemon(t, tr, func(rwc io.ReadWriteCloser) io.ReadWriteCloser {
				return &freezing{ReadWriteCloser: rwc, left: 1 << 20, closed: make(chan struct{}), thaw: thaw}
			})
			sess, err = connect(s).SFTP(context.Background(), "c1", SFTPOptions{WritePacket: 128 << 10})
			if err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			err = sess.PutFile("/f", bytes.NewReader(data), FilePut{UID: -1, GID: -1})
			sess.Close()
			wantError(t, err, errdefs.ErrUnavailable, s.Addr, "the SFTP session with c1 stalled: no answer for 1s")
			if took := time.Since(start); took > shortTimeout+2*time.Second {
				t.Errorf("the stall mid-transfer took %s", took)
			}
		})
	}
}
