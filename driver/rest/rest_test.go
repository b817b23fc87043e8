package rest_test

import (
	"testing"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/drivertest"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestDriver runs the shared driver suite on each real daemon.
func TestDriver(t *testing.T) {
	testhost.Each(t, func(t *testing.T, c *client.Client) {
		drivertest.Run(t, rest.New(c))
	})
}

// TestDriverHTTPS runs the same suite over HTTPS, with a client
// certificate the daemon trusts and its certificate pinned.
func TestDriverHTTPS(t *testing.T) {
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			drivertest.Run(t, rest.New(testhost.ConnectHTTPS(t, h)))
		})
	}
}
