// Package hostile serves, for tests, what a hostile or broken server at
// --host might answer: an endless body, a huge JSON document, a wrong
// content type, one byte at a time, silence, a connection dropped
// mid-answer, endless websocket frames or headers. Each serves over a unix
// socket or over HTTPS, so that the client's bounds are tested on both.
// No real daemon can be made to answer like this on demand.
package hostile

import (
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Transports are the ways a Server listens.
var Transports = []string{"unix", "https"}

// Server is a hostile daemon, listening until the test ends or Close.
type Server struct {
	Addr string            // the socket's path, or https://127.0.0.1:PORT
	Cert *x509.Certificate // the HTTPS certificate to pin; nil on a socket
	srv  *httptest.Server
	once sync.Once
}

// Serve serves h over transport ("unix" or "https"). GET /1.0 answers as
// an LXD 5.0 would unless h is a Whole handler.
func Serve(t testing.TB, transport string, h http.Handler) *Server {
	t.Helper()
	if _, whole := h.(Whole); !whole {
		h = withServerInfo(h)
	}
	s := &Server{srv: httptest.NewUnstartedServer(h)}
	switch transport {
	case "unix":
		sock := filepath.Join(t.TempDir(), "unix.socket")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		s.srv.Listener.Close()
		s.srv.Listener = l
		s.srv.Start()
		s.Addr = sock
	case "https":
		s.srv.StartTLS()
		s.Addr, s.Cert = s.srv.URL, s.srv.Certificate()
	default:
		t.Fatalf("hostile: unknown transport %q", transport)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and waits for its handlers (but not hijacked
// connections) to end.
func (s *Server) Close() { s.once.Do(s.srv.Close) }

// ServerInfo is the answer to GET /1.0 of an LXD 5.0 on a unix socket.
const ServerInfo = `{"type":"sync","status":"Success","status_code":200,"metadata":{"api_extensions":["instances"],"auth":"trusted","environment":{"server":"lxd","server_version":"5.0.2"}}}`

func withServerInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/1.0" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, ServerInfo)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Whole is a handler that answers GET /1.0 too.
type Whole http.HandlerFunc

func (h Whole) ServeHTTP(w http.ResponseWriter, r *http.Request) { h(w, r) }

// fill writes the byte b to w until a write fails or n bytes are written
// (n < 0: no end).
func fill(w io.Writer, b byte, n int64) {
	buf := []byte(strings.Repeat(string(b), 64<<10))
	for n != 0 {
		k := int64(len(buf))
		if n > 0 {
			k = min(k, n)
			n -= k
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
	}
}

// EndlessBody answers every request with a JSON answer whose body never
// ends.
var EndlessBody = Whole(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"type":"sync","status_code":200,"metadata":{"x":"`)
	fill(w, 'a', -1)
})

// HugeDocument answers every request with a valid JSON answer of size
// bytes, made as it is sent. announce sets its Content-Length; without it
// the answer is chunked, as the daemons send large ones.
func HugeDocument(size int64, announce bool) Whole {
	const head = `{"type":"sync","status":"Success","status_code":200,"metadata":{"api_extensions":["`
	const tail = `"],"environment":{"server":"lxd","server_version":"5.0.2"}}}`
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if announce {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		io.WriteString(w, head)
		// One long extension name: valid JSON, of the size asked.
		fill(w, 'a', size-int64(len(head)+len(tail)))
		io.WriteString(w, tail)
	}
}

// WrongType answers every request with a web page.
var WrongType = Whole(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body>It works</body></html>\n")
})

// Trickle answers every request at once with headers, then sends a valid
// JSON answer one byte every interval.
func Trickle(every time.Duration) Whole {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range len(ServerInfo) {
			if _, err := io.WriteString(w, ServerInfo[i:i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	}
}

// Silent takes every request and never answers, as a stopped daemon.
var Silent = Whole(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })

// Dropped announces an answer of 1,000 bytes, sends 100 and drops the
// connection, as a daemon that dies mid-answer.
var Dropped = Whole(func(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n%s", ServerInfo[:100])
	buf.Flush()
})

// Hangup drops the connection of every request without answering, as a
// daemon that dies before it answers.
var Hangup = Whole(func(w http.ResponseWriter, r *http.Request) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
})

// EndlessFrame sends, as the next message of conn, a frame that announces
// 2^62 bytes and never ends (opcode: websocket.TextMessage or
// BinaryMessage), until a write fails.
func EndlessFrame(conn *websocket.Conn, opcode int) {
	hdr := []byte{0x80 | byte(opcode), 127, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(hdr[2:], 1<<62)
	nc := conn.NetConn()
	if _, err := nc.Write(hdr); err != nil {
		return
	}
	fill(nc, 'a', -1)
}

// Websocket upgrades r and runs serve on the websocket until it returns.
func Websocket(w http.ResponseWriter, r *http.Request, serve func(*websocket.Conn)) {
	var up websocket.Upgrader
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	serve(conn)
}

// Drain reads conn until it fails: a peer that takes what it is sent.
func Drain(conn *websocket.Conn) {
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

// End ends a stream as the daemons do: a close frame, then the peer's.
func End(conn *websocket.Conn) {
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	Drain(conn)
}

// Events serves GET /1.0/events with serve; other paths are not found.
func Events(serve func(*websocket.Conn)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/1.0/events" {
			NotFound(w)
			return
		}
		Websocket(w, r, serve)
	})
}

// EndlessHeaders answers a websocket handshake (any request) with a 101
// whose headers never end.
var EndlessHeaders = Whole(func(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	line := "X-Padding: " + strings.Repeat("a", 1000) + "\r\n"
	for {
		if _, err := buf.WriteString(line); err != nil {
			return
		}
		if buf.Writer.Buffered() > 32<<10 {
			if err := buf.Flush(); err != nil {
				return
			}
		}
	}
})

// NotFound answers as the daemons do for a missing object.
func NotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, `{"type":"error","error":"not found","error_code":404}`)
}

// Exec serves the exec of one command in any instance: POST
// /1.0/instances/NAME/exec starts operation "op1" with websockets
// "control", "0", "1" and "2", which fds serves (by default the output
// streams 1 and 2 end at once, the others are drained until the client
// hangs up); the operation succeeds (exit code 0) after runFor. wait, when
// not nil, answers the waits for the operation instead (Silent: a daemon
// stopped mid-command, Hangup: one that dies).
func Exec(runFor time.Duration, wait http.Handler, fds map[string]func(*websocket.Conn)) http.Handler {
	return ExecUntil(func() <-chan struct{} {
		ended := make(chan struct{})
		time.AfterFunc(runFor, func() { close(ended) })
		return ended
	}, wait, fds)
}

// ExecUntil is Exec whose command ends when the channel that start gives
// for it (at its POST) is closed.
func ExecUntil(start func() <-chan struct{}, wait http.Handler, fds map[string]func(*websocket.Conn)) http.Handler {
	var mu sync.Mutex
	ended := make(<-chan struct{}) // never closed: no command yet
	op := func(done bool) string {
		state := `"status":"Running","status_code":103,"metadata":{`
		if done {
			state = `"status":"Success","status_code":200,"metadata":{"return":0,`
		}
		return `{"id":"op1","class":"websocket",` + state + `"fds":{"control":"control","0":"0","1":"1","2":"2"}}}`
	}
	isClosed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		cmd := ended
		mu.Unlock()
		switch p := r.URL.Path; {
		case r.Method == http.MethodPost && strings.HasSuffix(p, "/exec"):
			mu.Lock()
			ended = start()
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"type":"async","status":"Operation created","status_code":100,"operation":"/1.0/operations/op1","metadata":`+op(false)+`}`)
		case p == "/1.0/operations/op1/websocket":
			fd := r.URL.Query().Get("secret")
			serve := fds[fd]
			switch {
			case serve != nil:
			case fd == "1" || fd == "2":
				serve = End
			default:
				serve = Drain
			}
			Websocket(w, r, serve)
		case p == "/1.0/operations/op1/wait" && wait != nil:
			wait.ServeHTTP(w, r)
		case p == "/1.0/operations/op1/wait":
			held, _ := strconv.Atoi(r.URL.Query().Get("timeout"))
			select {
			case <-cmd:
			case <-time.After(time.Duration(held) * time.Second):
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, `{"type":"sync","status":"Success","status_code":200,"metadata":`+op(isClosed(cmd))+`}`)
		case p == "/1.0/operations/op1":
			io.WriteString(w, `{"type":"sync","status":"Success","status_code":200,"metadata":`+op(isClosed(cmd))+`}`)
		default:
			NotFound(w)
		}
	})
}
