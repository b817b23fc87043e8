package client_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestSocketLeavesNoSilentConnection: LXD and Incus accept unix-socket
// connections one at a time and read each one's first bytes before taking
// the next, so a connection a client dialed but never wrote on holds up
// every other client of the daemon. Go's HTTP transport leaves such
// connections in its pool when a dial loses the race to an idle connection,
// which bursts of concurrent requests provoke. Afterwards another client
// must still be answered.
func TestSocketLeavesNoSilentConnection(t *testing.T) {
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		ctx := testhost.Context(t, time.Minute)
		for range 50 {
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.Query(ctx, http.MethodGet, "/1.0", nil, nil); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		if t.Failed() {
			return
		}
		conn, err := net.Dial("unix", strings.TrimPrefix(c.Addr(), "unix://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Far beyond a daemon's answer, far below the transport's 90 s.
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := conn.Write([]byte("GET /1.0 HTTP/1.0\r\nHost: lxkit\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("the daemon did not answer another client: %v", err)
		}
		if !strings.Contains(status, " 200 ") {
			t.Errorf("another client got %q", status)
		}
	})
}
