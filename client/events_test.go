package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/hostile"
)

const startedEvent = `{"type":"lifecycle","timestamp":"2026-01-01T00:00:00Z","metadata":{"action":"instance-started","source":"/1.0/instances/c1"},"project":"default"}`

// eventsDaemon is a fake daemon whose events websocket runs serve; the
// query of each events request is sent to queries.
func eventsDaemon(t *testing.T, queries chan<- url.Values, serve func(*websocket.Conn)) string {
	return fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/1.0/events" {
			http.NotFound(w, r)
			return
		}
		if queries != nil {
			queries <- r.URL.Query()
		}
		hostile.Websocket(w, r, serve)
	})
}

// collect runs Events until it returns and gives the events fn saw.
func collect(ctx context.Context, c *Client, opts api.EventOptions) ([]api.Event, error) {
	var seen []api.Event
	err := c.Events(ctx, opts, func(ev api.Event) error {
		seen = append(seen, ev)
		return nil
	})
	return seen, err
}

func TestEventsStreamThatBreaks(t *testing.T) {
	sock := eventsDaemon(t, nil, func(conn *websocket.Conn) {
		_ = conn.WriteMessage(websocket.TextMessage, []byte(startedEvent))
		// then the connection drops, without a close frame
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen, err := collect(ctx, connect(t, sock), api.EventOptions{})
	if len(seen) != 1 || seen[0].Metadata["action"] != "instance-started" || seen[0].Timestamp.IsZero() {
		t.Errorf("events before the break: %+v", seen)
	}
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "events: connection to the daemon lost") {
		t.Fatalf("broken stream: %v, want ErrUnavailable naming %s", err, sock)
	}
}

func TestEventsGarbage(t *testing.T) {
	sock := eventsDaemon(t, nil, func(conn *websocket.Conn) {
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":`))
		_, _, _ = conn.ReadMessage() // until the client hangs up
	})
	_, err := collect(context.Background(), connect(t, sock), api.EventOptions{})
	if !errors.Is(err, errdefs.ErrInternal) || !strings.Contains(err.Error(), "decoding an event") {
		t.Fatalf("garbage: %v, want ErrInternal", err)
	}
}

func TestEventsRefused(t *testing.T) {
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"error","error":"Project not found","error_code":404}`))
	})
	_, err := collect(context.Background(), connect(t, sock), api.EventOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "Project not found") {
		t.Fatalf("refused subscription: %v, want ErrNotFound", err)
	}
}

func TestEventsQuery(t *testing.T) {
	queries := make(chan url.Values, 1)
	sock := eventsDaemon(t, queries, func(conn *websocket.Conn) {
		_ = conn.WriteMessage(websocket.TextMessage, []byte(startedEvent))
		_, _, _ = conn.ReadMessage()
	})
	stop := errors.New("stop")
	for _, tc := range []struct {
		project string
		opts    api.EventOptions
		want    string
	}{
		{"", api.EventOptions{}, "type=lifecycle%2Clogging%2Coperation"},
		{"p1", api.EventOptions{Types: []string{"operation", "lifecycle"}}, "project=p1&type=operation%2Clifecycle"},
		{"p1", api.EventOptions{Types: []string{"logging"}, AllProjects: true}, "all-projects=true&type=logging"},
	} {
		c, err := New(context.Background(), "unix://"+sock, WithProject(tc.project))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Events(context.Background(), tc.opts, func(api.Event) error { return stop })
		if err != stop {
			t.Errorf("%+v: Events returned %v, want fn's error itself", tc.opts, err)
		}
		if got := (<-queries).Encode(); got != tc.want {
			t.Errorf("project %q, %+v: query %s, want %s", tc.project, tc.opts, got, tc.want)
		}
	}
}

// withKeepAlive shortens the keepalive timings for a test.
func withKeepAlive(t *testing.T, ping, idle time.Duration) {
	oldPing, oldIdle := eventsPing, eventsIdle
	eventsPing, eventsIdle = ping, idle
	t.Cleanup(func() { eventsPing, eventsIdle = oldPing, oldIdle })
}

func TestEventsSilentDaemon(t *testing.T) {
	withKeepAlive(t, 100*time.Millisecond, 500*time.Millisecond)
	hold := make(chan struct{})
	defer close(hold)
	// A daemon that neither pings nor reads, so never answers a ping.
	sock := eventsDaemon(t, nil, func(*websocket.Conn) { <-hold })
	start := time.Now()
	_, err := collect(context.Background(), connect(t, sock), api.EventOptions{})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "no message or keepalive") {
		t.Fatalf("silent daemon: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("the silent stream ended after %s, want about 500ms", took)
	}
}

func TestEventsIdleStreamStaysUp(t *testing.T) {
	withKeepAlive(t, 100*time.Millisecond, 500*time.Millisecond)
	// A daemon that answers pings (by reading) but sends nothing for a
	// while, then one event.
	sock := eventsDaemon(t, nil, func(conn *websocket.Conn) {
		go func() {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
		time.Sleep(1500 * time.Millisecond)
		_ = conn.WriteMessage(websocket.TextMessage, []byte(startedEvent))
		time.Sleep(time.Second)
	})
	got := make(chan error, 1)
	go func() {
		got <- connect(t, sock).Events(context.Background(), api.EventOptions{}, func(api.Event) error { return errors.New("seen") })
	}()
	select {
	case err := <-got:
		if err == nil || err.Error() != "seen" {
			t.Fatalf("idle stream: %v, want the event after 1.5s", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Events did not return")
	}
}

func TestEventsContextEnds(t *testing.T) {
	sock := eventsDaemon(t, nil, func(conn *websocket.Conn) {
		_, _, _ = conn.ReadMessage() // until the client hangs up
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := collect(ctx, connect(t, sock), api.EventOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Events after ctx ended: %v, want ctx's error", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Events returned %s after ctx ended", took)
	}
}
