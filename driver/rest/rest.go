// Package rest is the Driver over the LXD/Incus REST API.
package rest

import (
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/internal/lifecycle"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/restapi"
)

// Driver manages containers through a client.
type Driver struct {
	*lifecycle.Driver
	c *client.Client
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver that uses c.
func New(c *client.Client) *Driver {
	return &Driver{
		Driver: lifecycle.New(c, func(name string) transport.Transport { return restapi.New(c, name) }),
		c:      c,
	}
}

// Client returns the driver's client.
func (d *Driver) Client() *client.Client { return d.c }

// The client streams events itself.
var _ hostapi.EventSource = (*client.Client)(nil)
