// Package driver defines how lxkit manages instances on one host. Two
// drivers implement it with identical behaviour: driver/rest (the REST API)
// and driver/cli (the lxc or incus command, through any transport).
//
// The methods are convergent: asking for a state that already holds is
// success. Creating an existing container, starting a running one or
// deleting a missing one returns nil.
package driver

import (
	"context"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
)

// Driver manages the containers of one host.
type Driver interface {
	// Create creates a container and, unless opts.NoStart, starts it. An
	// existing container is left as it is, and so is one that another
	// caller is creating at that moment, once its create has ended. A
	// failed create leaves nothing it made, and never deletes a container
	// another caller made.
	Create(ctx context.Context, name string, opts CreateOptions) error
	// Update merges config, devices and profiles into a container.
	Update(ctx context.Context, name string, opts UpdateOptions) error
	// Start starts (or unfreezes) a container.
	Start(ctx context.Context, name string) error
	// Stop stops a container (see StopOptions).
	Stop(ctx context.Context, name string, opts StopOptions) error
	// Delete stops a container forcibly and deletes it.
	Delete(ctx context.Context, name string) error
	// Status returns "running", "stopped", "frozen", ... in lower case.
	Status(ctx context.Context, name string) (string, error)
	// Instance returns a container's configuration.
	Instance(ctx context.Context, name string) (*api.Instance, error)
	// State returns a container's runtime state.
	State(ctx context.Context, name string) (*api.InstanceState, error)
	// List returns every container of the host.
	List(ctx context.Context) ([]api.Instance, error)
	// Transport returns a transport into the container.
	Transport(name string) transport.Transport
	// API returns the host's REST API as the driver reaches it, for what
	// lies beyond containers (package host: images, profiles, storage...).
	API() hostapi.API
}

// Statuses that Driver.Status returns.
const (
	StatusRunning = "running"
	StatusStopped = "stopped"
	StatusFrozen  = "frozen"
)

// Image says which image a container is made from: one of Alias,
// Fingerprint (a unique prefix is enough) or Properties.
type Image struct {
	Alias       string
	Fingerprint string
	Properties  map[string]string
	// Server is an image server URL; empty means the host's own images.
	Server string
	// Protocol is "lxd" (the default) or "simplestreams".
	Protocol string
	// Certificate is the server's certificate, PEM, for a server whose
	// certificate no authority the daemon trusts has signed (a
	// self-signed one, as `lxkit image serve` makes).
	Certificate string
	// SkipIndexCheck and Stall are host.ImageServer's: lxkit reads a
	// simplestreams server's index before the daemon pulls, unless
	// SkipIndexCheck, and gives up a pull that has no news for Stall
	// (zero: host.DefaultStall). A create given up while the daemon could
	// not cancel it (a *host.AbandonedError that has not Ended) may still
	// make its container, should the server answer after all.
	SkipIndexCheck bool
	Stall          time.Duration
	// Progress, if set, is given the daemon's own words as it downloads
	// from Server ("rootfs: 45% (12.3MB/s)").
	Progress func(text string)
}

// CreateOptions configures a new container. The zero value (apart from
// Image or Source) makes a started container with the "default" profile.
type CreateOptions struct {
	Image Image
	// Source, when not empty, makes the container a copy of another
	// instance of the host instead of an image (Image must then be
	// zero): "INSTANCE/SNAPSHOT" copies that snapshot, "INSTANCE" the
	// instance as it is (stop it first, or its files may be caught half
	// written). The root filesystem is the source's, copied by the
	// daemon: copy-on-write where the pool can (on btrfs, a snapshot of
	// the source's when both are in one pool), a full copy otherwise.
	// Its configuration, devices and profiles are these options' alone,
	// as an image's instance's would be, not the source's (only the
	// daemon's own volatile.* and image.* keys come along). When Devices
	// name no root disk (a disk with path /), the copy keeps the
	// source's own root disk device if it has one (its pool), as `lxc
	// copy` does, else its profiles' applies.
	Source string
	// Profiles replaces the default ["default"] when not nil.
	Profiles []string
	Config   map[string]string
	Devices  map[string]map[string]string
	// NoStart leaves the new container stopped.
	NoStart bool
	// Ephemeral makes an instance the daemon deletes when it stops.
	Ephemeral bool
	// VM asks for a virtual machine instead of a container; the daemon
	// refuses it where it has no VM driver (no KVM) or the image is a
	// container's.
	VM bool
	// Target places the new container on a cluster: a member's name, or
	// "@GROUP" for the daemon to choose within a cluster group. Empty
	// leaves the choice to the daemon (and is all a standalone host takes).
	Target string
	// Made, when not nil, is set to whether this call made the container
	// (false when it existed, or another caller made it meanwhile): what
	// only the maker should do next (apply cloud-config, say) can tell.
	Made *bool
}

// UpdateOptions says what to change in a container.
type UpdateOptions struct {
	// Config keys are set; a key with an empty value is removed.
	Config map[string]string
	// Devices are added or replaced; a device with a nil map is removed.
	Devices map[string]map[string]string
	// Profiles replaces the profile list when not nil.
	Profiles []string
}

// StopOptions says how to stop a container. The zero value stops it
// gracefully and waits as long as it takes (or until ctx ends), sending
// the stop again in case the container's init was not yet listening for
// it: after 1, 2, 4 and 8 seconds, then every DefaultRetryInterval.
type StopOptions struct {
	// Force kills the container at once.
	Force bool
	// Timeout bounds the whole graceful stop; zero means no bound.
	Timeout time.Duration
	// RetryInterval is the longest a stop request waits before the stop is
	// sent again (the first ones wait 1, 2, 4 and 8 seconds, when that is
	// shorter); zero means DefaultRetryInterval.
	RetryInterval time.Duration
	// RetryCount bounds how many times the stop is sent again; zero means
	// no bound (only Timeout and ctx end the stop).
	RetryCount int
}

// DefaultRetryInterval is StopOptions' default RetryInterval.
const DefaultRetryInterval = 10 * time.Second
