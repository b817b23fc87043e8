// Package host manages what a host has besides its containers: profiles,
// projects, storage pools and volumes, networks, images, snapshots, the
// server's configuration, operations and cluster members.
//
// It speaks the REST API through a hostapi.API, so it works the same with
// both drivers: over HTTP (driver/rest) and through `lxc query` or `incus
// query` (driver/cli), also on hosts nested in containers.
//
// Like the drivers, it converges: creating what exists or deleting what is
// missing is success.
package host

import (
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/internal/keyed"
)

// Host manages one host through its API.
type Host struct {
	c       hostapi.API
	updates *keyed.Mutex
}

// New returns a Host that uses c.
func New(c hostapi.API) *Host { return &Host{c: c, updates: &keyed.Mutex{}} }

// Addr names the host in messages.
func (h *Host) Addr() string { return h.c.Addr() }
