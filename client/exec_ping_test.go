package client

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestExecOutputSurvivesLatePong reproduces the lost output of quick
// commands: the daemon pings an exec socket as it connects, sends the
// output and closes the socket before a slow client has read anything.
// The client's pong then fails (the peer is gone), which must not make it
// drop the output that is still buffered.
func TestExecOutputSurvivesLatePong(t *testing.T) {
	output := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	closed := make(chan struct{})
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		_ = conn.WriteControl(websocket.PingMessage, []byte("keepalive"), time.Now().Add(time.Second))
		_ = conn.WriteMessage(websocket.BinaryMessage, output)
		_ = conn.WriteMessage(websocket.TextMessage, []byte{})
		conn.Close() // as the daemons do once the command has ended
		close(closed)
	})
	c := connect(t, sock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.websocket(ctx, "op", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	<-closed // the client reads only once the daemon is gone
	var got bytes.Buffer
	if err := readStream(conn, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), output) {
		t.Fatalf("read %d bytes of %d: the output was dropped", got.Len(), len(output))
	}
}

// TestExecStreamCut: a stream whose connection drops before the daemon's
// end of it (a cut connection, a killed daemon) is output missing, an
// error that says the connection was lost, not a short output.
func TestExecStreamCut(t *testing.T) {
	for _, end := range []string{"end message", "close frame", "dropped"} {
		t.Run(end, func(t *testing.T) {
			sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
				up := websocket.Upgrader{}
				conn, err := up.Upgrade(w, r, nil)
				if err != nil {
					t.Error(err)
					return
				}
				_ = conn.WriteMessage(websocket.BinaryMessage, []byte("some output"))
				switch end {
				case "end message":
					_ = conn.WriteMessage(websocket.TextMessage, []byte{})
				case "close frame":
					_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				}
				conn.Close()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := connect(t, sock).websocket(ctx, "op", "secret")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var got bytes.Buffer
			err = readStream(conn, &got)
			if got.String() != "some output" {
				t.Errorf("read %q", got.String())
			}
			if cut := end == "dropped"; cut != lostWebsocket(err) {
				t.Errorf("%s: readStream: %v; want a lost connection: %v", end, err, cut)
			}
		})
	}
}
