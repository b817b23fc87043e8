package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
)

// fakeDaemon serves h on a unix socket, for error paths that a real daemon
// cannot produce on demand. GET /1.0 answers as an LXD would.
func fakeDaemon(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "unix.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/1.0" {
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"api_extensions":["x"],"environment":{"server":"lxd","server_version":"5.0.2"}}}`))
			return
		}
		h(w, r)
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

func connect(t *testing.T, sock string) *Client {
	t.Helper()
	c, err := New(context.Background(), "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorAnswersMatchTheirClass(t *testing.T) {
	for _, tc := range []struct {
		status int
		class  error
	}{
		{404, errdefs.ErrNotFound},
		{409, errdefs.ErrConflict},
		{400, errdefs.ErrInvalidArgument},
		{403, errdefs.ErrForbidden},
		{412, errdefs.ErrPreconditionFailed},
		{500, errdefs.ErrInternal},
		{503, errdefs.ErrUnavailable},
	} {
		sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			w.Write([]byte(`{"type":"error","error":"the daemon says no","error_code":` + itoa(tc.status) + `}`))
		})
		_, err := connect(t, sock).Query(context.Background(), "GET", "/1.0/instances/x", nil, nil)
		var se *errdefs.StatusError
		if !errors.Is(err, tc.class) || !errors.As(err, &se) || se.Status != tc.status || se.Message != "the daemon says no" {
			t.Errorf("status %d: got %v (%T); want class %v with the daemon's message", tc.status, err, err, tc.class)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestGarbageAnswerIsAnError(t *testing.T) {
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>not json")) })
	_, err := connect(t, sock).Query(context.Background(), "GET", "/1.0/instances", nil, nil)
	if !errors.Is(err, errdefs.ErrInternal) || !strings.Contains(err.Error(), "text/html, not JSON") || !strings.Contains(err.Error(), sock) {
		t.Errorf("garbage answer: %v", err)
	}
	sock = fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	_, err = connect(t, sock).Query(context.Background(), "GET", "/1.0/instances", nil, nil)
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("empty 502: %v", err)
	}
}

func TestFailedOperation(t *testing.T) {
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST":
			w.WriteHeader(202)
			w.Write([]byte(`{"type":"async","status_code":100,"metadata":{"id":"op1","status":"Running","status_code":103,"description":"Creating instance"}}`))
		case strings.HasSuffix(r.URL.Path, "/wait"):
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"id":"op1","status":"Failure","status_code":400,"err":"disk full","description":"Creating instance"}}`))
		}
	})
	_, err := connect(t, sock).Do(context.Background(), "POST", "/1.0/instances", map[string]string{}, "")
	var oe *errdefs.OperationError
	if !errors.As(err, &oe) || oe.Err != "disk full" || err.Error() != "Creating instance: disk full" {
		t.Errorf("failed operation: %v", err)
	}
}

func TestVanishedOperation(t *testing.T) {
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			w.WriteHeader(202)
			w.Write([]byte(`{"type":"async","metadata":{"id":"op1","status_code":103}}`))
			return
		}
		w.WriteHeader(404)
		w.Write([]byte(`{"type":"error","error":"not found","error_code":404}`))
	})
	_, err := connect(t, sock).Do(context.Background(), "POST", "/1.0/instances", nil, "")
	if err == nil || !strings.Contains(err.Error(), "vanished") {
		t.Errorf("vanished operation: %v", err)
	}
}

// TestWaitCancelsOperationWhenContextEnds: the cancellation is asked
// whatever the operation said when it started: an image download is not
// cancellable then (LXD 5.0.2, Incus 6.0.4), only once its files
// download.
func TestWaitCancelsOperationWhenContextEnds(t *testing.T) {
	for _, mayCancel := range []string{"true", "false"} {
		var deleted atomic.Bool
		sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == "POST":
				w.WriteHeader(202)
				w.Write([]byte(`{"type":"async","metadata":{"id":"op1","status_code":103,"may_cancel":` + mayCancel + `}}`))
			case r.Method == "DELETE":
				deleted.Store(true)
				w.Write([]byte(`{"type":"sync","metadata":{}}`))
			default: // a wait that never ends by itself
				<-r.Context().Done()
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := connect(t, sock).Do(ctx, "POST", "/1.0/instances", nil, "")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !deleted.Load() {
			t.Errorf("may_cancel %s: err %v, cancelled on the daemon: %v", mayCancel, err, deleted.Load())
		}
	}
}

// TestFailedFirstAnswer: a GET /1.0 that fails (no daemon answers like
// this on demand) is an error from New, not a crash.
func TestFailedFirstAnswer(t *testing.T) {
	for _, body := range []string{`{"type":"error","error_code":500,"error":"boom"}`, "<html>not json"} {
		sock := filepath.Join(t.TempDir(), "unix.socket")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(body))
		}))
		srv.Listener = l
		srv.Start()
		_, err = New(context.Background(), sock)
		srv.Close()
		if !errors.Is(err, errdefs.ErrInternal) {
			t.Errorf("GET /1.0 answered 500 %q: got %v, want ErrInternal", body, err)
		}
	}
}

func TestUnreachableDaemon(t *testing.T) {
	dir := t.TempDir()
	_, err := New(context.Background(), filepath.Join(dir, "missing.socket"))
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "missing.socket: no such socket") || strings.Contains(err.Error(), "refused") {
		t.Errorf("missing socket: %v", err)
	}
	// A socket file with nobody listening.
	sock := filepath.Join(dir, "dead.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	_, err = New(context.Background(), sock)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "not answering") {
		t.Errorf("dead socket: %v", err)
	}
}

func TestExecMissingCommandIs127(t *testing.T) {
	// Incus refuses the request; LXD fails the operation.
	for _, err := range []error{
		&errdefs.StatusError{Status: 400, Message: "Command not found"},
		&errdefs.OperationError{Status: "Failure", Err: "Command not found"},
	} {
		if code, e := execFailure(err); code != ExitCommandNotFound || e != nil {
			t.Errorf("%v -> %d, %v", err, code, e)
		}
	}
	if code, e := execFailure(&errdefs.StatusError{Status: 404, Message: "Instance not found"}); code != -1 || e == nil {
		t.Errorf("other failures must stay errors: %d %v", code, e)
	}
}

// TestWaitOutlastsIncusTimeouts: Incus 6.0.4 answers a wait whose timeout
// ran out with the error "context deadline exceeded" (in a 200 answer,
// its header sent before the wait), not with the running operation; the
// wait goes on until the operation ends.
func TestWaitOutlastsIncusTimeouts(t *testing.T) {
	var waits atomic.Int32
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST":
			w.WriteHeader(202)
			w.Write([]byte(`{"type":"async","metadata":{"id":"op1","status":"Running","status_code":103}}`))
		case strings.HasSuffix(r.URL.Path, "/wait"):
			waits.Add(1)
			w.Write([]byte(`{"type":"error","error":"context deadline exceeded","error_code":500}`))
		case waits.Load() < 3:
			w.Write([]byte(`{"type":"sync","metadata":{"id":"op1","status":"Running","status_code":103}}`))
		default:
			w.Write([]byte(`{"type":"sync","metadata":{"id":"op1","status":"Success","status_code":200,"metadata":{"done":"yes"}}}`))
		}
	})
	op, err := connect(t, sock).Do(context.Background(), "POST", "/1.0/images", nil, "")
	if err != nil || op.Metadata["done"] != "yes" || waits.Load() != 3 {
		t.Errorf("Do = %+v, %v after %d waits; want the operation's success after 3", op, err, waits.Load())
	}
}

// A daemon killed between two requests of one operation leaves its socket
// file behind, refusing connections: the client, which it had answered,
// says the connection was lost, as it does when one ends under a request.
func TestRefusedAfterAnswering(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "unix.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // as a killed daemon leaves it
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"api_extensions":["x"],"environment":{"server":"lxd","server_version":"5.0.2"}}}`))
	}))
	srv.Listener = l
	srv.Start()
	c := connect(t, sock)
	srv.Close()
	_, err = c.Query(context.Background(), http.MethodGet, "/1.0/instances", nil, nil)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "connection to the daemon lost (it answered before, now it refuses connections)") {
		t.Errorf("refused after an answer: %v; want ErrUnavailable saying the connection was lost", err)
	}
}

// A closed client sends nothing more: each call fails at once, saying so.
func TestClosedClient(t *testing.T) {
	var asked atomic.Int32
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write([]byte(`{"type":"sync","status_code":200,"metadata":[]}`))
	})
	c := connect(t, sock)
	if _, err := c.Query(context.Background(), http.MethodGet, "/1.0/instances", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Query(context.Background(), http.MethodGet, "/1.0/instances", nil, nil)
	if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Query after Close: %v; want net.ErrClosed", err)
	}
	if _, _, err := c.dialWebsocket(context.Background(), c.wsBase+"/1.0/events", "events"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("websocket after Close: %v; want net.ErrClosed", err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the daemon was asked %d times; want once, before Close", n)
	}
}

// timeoutErr is a dial's i/o timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestWebsocketErrorAtTheDeadline(t *testing.T) {
	c := &Client{addr: "/test.sock", timeout: 10 * time.Second}
	// The deadline has passed, and the context's timer has not fired yet:
	// the caller's timeout, not a silent daemon.
	ctx := deadlineOnly{time.Now().Add(-time.Millisecond)}
	if err := c.websocketError(ctx, "an exec websocket", timeoutErr{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a dial timeout at the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
	// Before the deadline, a timeout is the daemon's silence.
	ctx = deadlineOnly{time.Now().Add(time.Hour)}
	if err := c.websocketError(ctx, "an exec websocket", timeoutErr{}); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "no answer to the handshake") {
		t.Errorf("a dial timeout before the deadline: %v", err)
	}
}

// deadlineOnly is a context whose deadline is d and whose Err stays nil,
// as a context's is until its timer fires.
type deadlineOnly struct{ d time.Time }

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.d, true }
func (deadlineOnly) Done() <-chan struct{}         { return nil }
func (deadlineOnly) Err() error                    { return nil }
func (deadlineOnly) Value(any) any                 { return nil }

// TestTokenElsewhereIsSaid: LXD 5.0.2's answer to a token of another
// cluster member (seen in TestTokenAtAnotherMember, from the daemon at
// m2) reaches the caller as what it means, when the token names no
// member to redeem it at instead.
func TestTokenElsewhereIsSaid(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/1.0":
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"api_extensions":["x"],"auth":"untrusted"}}`))
		case r.Method == http.MethodPost && r.URL.Path == "/1.0/certificates":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"type":"error","error":"Bad certificate add operation data","error_code":500}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	if _, err := certs.Generate(crt, key, certs.GenerateOptions{}); err != nil {
		t.Fatal(err)
	}
	cert, err := certs.LoadKeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), srv.URL, WithTLS(TLSOptions{ClientCert: &cert, Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	token := EncodeTrustToken(api.TrustToken{ClientName: "c", Fingerprint: "ab", Secret: "s3cret"})
	err = c.RequestTrust(context.Background(), TrustRequest{Name: "c", Token: token})
	if !errors.Is(err, errdefs.ErrForbidden) || !strings.Contains(err.Error(), "takes a token only at the member that made it") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("RequestTrust: %v; want the quirk said, without the secret", err)
	}
}
