package cli_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

// fakeEvents serves, on a unix socket in a fresh directory, what `lxc
// monitor` and `incus monitor` ask for: GET /1.0, then the events
// websocket, which events handles (nil refuses it with a 404). It returns
// the directory, for LXD_DIR or INCUS_DIR.
func fakeEvents(t *testing.T, kind string, events func(r *http.Request, conn *websocket.Conn)) string {
	t.Helper()
	return fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/1.0":
			_, _ = w.Write([]byte(`{"type":"sync","status":"Success","status_code":200,"metadata":{"api_extensions":[],"api_status":"stable","api_version":"1.0","auth":"trusted","environment":{"server":"` + kind + `","server_version":"1","project":"default"}}}`))
		case r.URL.Path == "/1.0/events" && events != nil:
			var up websocket.Upgrader
			conn, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer conn.Close()
			events(r, conn)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"type":"error","error":"Project not found","error_code":404}`))
		}
	})
}

// fakeDaemon serves handler on a unix socket, unix.socket in a fresh
// directory, and returns the directory (for LXD_DIR or INCUS_DIR).
func fakeDaemon(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "unix.socket"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return dir
}

// eachCommand runs f for lxc and incus, each pointed at a fake daemon
// that serves events.
func eachCommand(t *testing.T, events func(r *http.Request, conn *websocket.Conn), f func(t *testing.T, d *cli.Driver)) {
	eachFake(t, func(t *testing.T, kind string) string { return fakeEvents(t, kind, events) }, f)
}

// eachFake runs f for lxc and incus, each pointed at the fake daemon that
// serve starts (it returns the daemon's directory).
func eachFake(t *testing.T, serve func(t *testing.T, kind string) string, f func(t *testing.T, d *cli.Driver)) {
	for _, c := range []struct{ command, kind, env string }{
		{"lxc", "lxd", "LXD_DIR"},
		{"incus", "incus", "INCUS_DIR"},
	} {
		t.Run(c.command, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(c.command); err != nil {
				testhost.Unavailable(t, "%s: %v", c.command, err)
			}
			dir := serve(t, c.kind)
			f(t, cli.Open(local.New(), cli.Options{Command: c.command, Env: map[string]string{c.env: dir}, Where: "fake " + c.kind}))
		})
	}
}

func events(t *testing.T, d driver.Driver, opts api.EventOptions) ([]api.Event, error) {
	t.Helper()
	src, ok := d.API().(hostapi.EventSource)
	if !ok {
		t.Fatalf("%T cannot stream events", d.API())
	}
	var seen []api.Event
	err := src.Events(testhost.Context(t, 30*time.Second), opts, func(ev api.Event) error {
		seen = append(seen, ev)
		return nil
	})
	return seen, err
}

// TestEventsStreamThatBreaks: the monitor's events come through, then the
// connection drops: a classified error naming the host. The fake drops it
// only once the event was seen: the monitor itself may lose the events it
// read just before a break (hostapi.MonitorLosesLastEvents).
func TestEventsStreamThatBreaks(t *testing.T) {
	queries := make(chan string, 2)
	seenBy := map[string]chan struct{}{"lxd": make(chan struct{}), "incus": make(chan struct{})}
	eachFake(t, func(t *testing.T, kind string) string {
		return fakeEvents(t, kind, func(r *http.Request, conn *websocket.Conn) {
			queries <- r.URL.RawQuery
			for _, ev := range []string{
				`{"type":"logging","timestamp":"2026-01-01T00:00:00Z","metadata":{"level":"info","message":"hi"}}`,
				`{"type":"lifecycle","timestamp":"2026-01-01T00:00:01Z","metadata":{"action":"instance-started","source":"/1.0/instances/c1"},"project":"p1"}`,
			} {
				_ = conn.WriteMessage(websocket.TextMessage, []byte(ev))
			}
			select { // then the connection drops, without a close frame
			case <-seenBy[kind]:
			case <-time.After(20 * time.Second):
			}
		})
	}, func(t *testing.T, d *cli.Driver) {
		kind := map[string]string{"lxc": "lxd", "incus": "incus"}[d.Host().Command]
		var seen []api.Event
		err := d.API().(hostapi.EventSource).Events(testhost.Context(t, 30*time.Second),
			api.EventOptions{Types: []string{api.EventTypeLifecycle}, AllProjects: true}, func(ev api.Event) error {
				if seen = append(seen, ev); len(seen) == 1 {
					close(seenBy[kind])
				}
				return nil
			})
		// The monitor filters the types itself (the daemon sees none).
		if len(seen) != 1 || seen[0].Metadata["action"] != "instance-started" || seen[0].Project != "p1" {
			t.Errorf("events before the break: %+v", seen)
		}
		if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), d.Host().Addr()) || !strings.Contains(err.Error(), "connection to the daemon lost") {
			t.Fatalf("broken stream: %v, want ErrUnavailable naming %s", err, d.Host().Addr())
		}
		if q := <-queries; q != "all-projects=true" {
			t.Errorf("the monitor asked for events?%s, want all-projects=true", q)
		}
	})
}

func TestEventsRefused(t *testing.T) {
	eachCommand(t, nil, func(t *testing.T, d *cli.Driver) {
		_, err := events(t, d, api.EventOptions{})
		if d.Host().Command == "lxc" {
			// LXD 5.0's lxc drops the daemon's answer: all it says is
			// "Error: websocket: bad handshake".
			if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "monitor failed: websocket: bad handshake") || !strings.Contains(err.Error(), d.Host().Addr()) {
				t.Fatalf("refused subscription: %v, want ErrUnavailable naming the host", err)
			}
			return
		}
		if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "Project not found") || !strings.Contains(err.Error(), d.Host().Addr()) {
			t.Fatalf("refused subscription: %v, want ErrNotFound naming the host", err)
		}
	})
}
