package client

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/lxkit/lxkit/errdefs"
)

// WithFallbacks names other addresses of the same service, such as the
// other members of a cluster (https://HOST[:PORT] or HOST[:PORT]). When
// the daemon at the client's address does not take a connection (refused,
// unreachable, timed out), each is tried in turn, and the first that
// answers serves every later connection of the client. The server's
// certificate is checked as for the address itself: a cluster's members
// share one. It has no effect on a unix socket.
func WithFallbacks(addrs ...string) Option {
	return func(c *Client) { c.fallbacks = append(c.fallbacks, addrs...) }
}

// Connected returns the address (HOST:PORT) that the client's last
// connection went to: its own, or one of WithFallbacks' after a failover.
// It is "" on a unix socket.
func (c *Client) Connected() string {
	if p := c.connected.Load(); p != nil {
		return *p
	}
	return ""
}

// failover returns a dial function that tries host first, then each
// fallback, starting from the one that answered last.
func (c *Client) failover(dial func(ctx context.Context, network, addr string) (net.Conn, error), host string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	hosts := []string{host}
	for _, a := range c.fallbacks {
		ep, err := ParseAddr(a)
		if err != nil || ep.Socket != "" {
			return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, err, "fallback %s: not an HTTPS address", a)
		}
		if ep.Host != host {
			hosts = append(hosts, ep.Host)
		}
	}
	c.connected.Store(&host)
	if len(hosts) == 1 {
		return dial, nil
	}
	var first atomic.Int32 // the index of the host that answered last
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		start := int(first.Load())
		var errs []error
		for i := range hosts {
			n := (start + i) % len(hosts)
			conn, err := dial(ctx, network, hosts[n])
			if err == nil {
				first.Store(int32(n))
				c.connected.Store(&hosts[n])
				return conn, nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
			errs = append(errs, err)
		}
		return nil, errs[0] // the address the caller named speaks for the rest
	}, nil
}
