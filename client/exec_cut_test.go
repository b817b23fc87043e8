package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
)

// TestExecCutUnderTheWait replays what a cut connection does to an exec
// (hostapi.ExecEndsOnLostControl): the control socket drops, so the daemon
// kills the command and ends its output streams normally; the operation
// wait, cut too, is sent again by Go's transport on a new connection and
// gets exit code 137. That is the connection lost, not the command's exit.
func TestExecCutUnderTheWait(t *testing.T) {
	cut := make(chan struct{})
	var cutOnce sync.Once
	var waits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/1.0":
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"api_extensions":["x"],"environment":{"server":"lxd","server_version":"5.0.2"}}}`))
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/exec"):
			w.Write([]byte(`{"type":"async","status_code":100,"metadata":{"id":"op1","status":"Running","status_code":103,` +
				`"metadata":{"fds":{"control":"c","0":"i","1":"o","2":"e"}}}}`))
		case strings.HasSuffix(r.URL.Path, "/websocket"):
			conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			switch r.URL.Query().Get("secret") {
			case "c":
				<-cut // dropped, with no close message
			case "o", "e":
				_ = conn.WriteMessage(websocket.BinaryMessage, []byte("line 0\n"))
				<-cut
				_ = conn.WriteMessage(websocket.TextMessage, nil) // the end, as after a kill
				time.Sleep(100 * time.Millisecond)
			default:
				for {
					if _, _, err := conn.ReadMessage(); err != nil {
						return
					}
				}
			}
		case strings.HasSuffix(r.URL.Path, "/wait"):
			if waits.Add(1) == 1 {
				// Cut under the wait: no answer, the connection closed.
				cutOnce.Do(func() { close(cut) })
				time.Sleep(50 * time.Millisecond)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			w.Write([]byte(`{"type":"sync","status_code":200,"metadata":{"id":"op1","status":"Success","status_code":200,"metadata":{"return":137}}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Over HTTPS, where connections are kept alive (on the unix socket
	// each request has its own, and nothing is sent again).
	c, err := New(ctx, srv.URL, WithTLS(TLSOptions{ServerCert: srv.Certificate()}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	code, err := c.Exec(ctx, "c1", api.InstanceExecPost{Command: []string{"sh"}}, ExecIO{Stdout: &out})
	if waits.Load() != 2 {
		t.Fatalf("the daemon saw %d waits; the test wants the first cut and the second answered (exit code %d, error %v)", waits.Load(), code, err)
	}
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "connection to the daemon lost during the command in c1") {
		t.Errorf("exec cut under its wait: exit code %d, error %v; want the connection lost", code, err)
	}
	if code != -1 {
		t.Errorf("exit code %d; want -1 (the 137 is the daemon's, not the command's)", code)
	}
}
