// Package hostapi is the floor under everything that speaks a host's REST
// API: the API both drivers reach it through (HTTP in package client,
// `lxc query` or `incus query` in driver/cli), its optional capabilities,
// how a path names an instance and a project, and the one table of what
// LXD and Incus say that lxkit recognises (Classify, the quirks).
package hostapi

import (
	"context"

	"github.com/lxkit/lxkit/api"
)

// API is a host's REST API as both drivers reach it: over HTTP, or
// through `lxc query` / `incus query`.
type API interface {
	// Addr names the host in messages.
	Addr() string
	// Query sends a request and decodes the answer's metadata into out;
	// requests that start background operations go through Do.
	Query(ctx context.Context, method, path string, body, out any) (etag string, err error)
	// Do sends a request (with If-Match when ifMatch is not empty) and
	// waits for the background operation it starts, if any.
	Do(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error)
}

// Starter is an API that can start an operation without waiting for it,
// so that its progress can be followed (both drivers' APIs are).
type Starter interface {
	Start(ctx context.Context, method, path string, body any, ifMatch string) (*api.Operation, error)
}

// EventSource is an API that streams the host's events (GET /1.0/events).
// Both drivers' APIs implement it: the REST client over the events
// websocket, the CLI driver with `lxc monitor` or `incus monitor`.
type EventSource interface {
	// Events calls fn for each event of the types opts asks for, one at a
	// time on the caller's goroutine, until ctx ends, fn returns an error
	// or the stream breaks. It returns ctx.Err() when ctx ends, fn's error
	// as it is, and for a stream that breaks an error matching
	// errdefs.ErrUnavailable that names the host. A type that is not one
	// of api.EventTypes is errdefs.ErrInvalidArgument.
	//
	// Events that happen before the subscription is in place (which
	// Events does not report) are not seen. fn should return quickly: a
	// daemon drops a listener that falls behind. Events close in time may
	// come in either order (see EventsUnordered).
	Events(ctx context.Context, opts api.EventOptions, fn func(api.Event) error) error
}

// ImageFiler is an API that moves an image's files between this machine
// and the host. Both drivers' APIs are: the REST client with GET
// /1.0/images/FP/export and POST /1.0/images, the CLI driver with `lxc
// image export` and `lxc image import` on the machine that runs lxc, the
// files going through its transport.
type ImageFiler interface {
	// ExportImage writes the files of the image with the full
	// fingerprint fp into dir and returns their paths: the unified
	// tarball, or the metadata file then the rootfs.
	ExportImage(ctx context.Context, fp, dir string, progress func(bytes int64)) ([]string, error)
	// ImportImage makes an image of files (the unified tarball, or the
	// metadata file then the rootfs) whose fingerprint is fp.
	ImportImage(ctx context.Context, files []string, fp string, progress func(bytes int64)) error
}

// LogReader is an API that reads what a daemon keeps about an instance as
// plain text rather than JSON. Both drivers' APIs are: the REST client
// with GET /1.0/instances/NAME/logs/FILE and GET
// /1.0/instances/NAME/console, the CLI driver with `lxc info --show-log`
// and `lxc console --show-log` (`lxc query` decodes these answers as
// JSON, and fails on them or prints nothing).
type LogReader interface {
	// InstanceLog returns the instance's log file, as `lxc info
	// --show-log` prints it: LogFile ("lxc.log") for a container,
	// VMLogFile for a virtual machine. Others are
	// errdefs.ErrNotImplemented through the CLI.
	InstanceLog(ctx context.Context, name, file string) ([]byte, error)
	// ConsoleLog returns what a container wrote to its console, as `lxc
	// console --show-log` prints it. The daemons hand out what was
	// written since the last read (theirs or anyone's): a read empties
	// the buffer of a running container. An empty buffer may be an error
	// carrying ConsoleEmpty.
	ConsoleLog(ctx context.Context, name string) ([]byte, error)
}

// The log files of an instance that `lxc info --show-log` prints.
const (
	LogFile   = "lxc.log"  // a container's
	VMLogFile = "qemu.log" // a virtual machine's
)
