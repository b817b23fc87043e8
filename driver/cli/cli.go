// Package cli is the Driver that runs `lxc` or `incus` through any
// transport: this machine's, a container's (to drive the LXD inside it),
// or a chain of them. It shares the REST driver's lifecycle code and asks
// the host through `lxc query`, so both drivers behave the same.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/internal/lifecycle"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/lxccmd"
)

// Options says which command to run and how.
type Options struct {
	// Command is "lxc" or "incus"; empty means whichever the machine
	// behind the transport has, lxc first.
	Command string
	// Env is added to every command's environment (LXD_DIR, INCUS_DIR).
	Env map[string]string
	// Remote is one of the command's remotes; empty means its default.
	Remote string
	// Where names the host in messages; empty means the command's name.
	Where string
	// Project is the project to work in; empty means the command's
	// current one (its remote's, else the default).
	Project string
}

// ForSocket returns the options that reach the daemon behind a unix
// socket: `incus` with INCUS_DIR for an Incus socket, else `lxc` with
// LXD_DIR.
func ForSocket(socket string) Options {
	dir := filepath.Dir(strings.TrimPrefix(socket, "unix://"))
	if strings.Contains(filepath.Base(dir), "incus") {
		return Options{Command: "incus", Env: map[string]string{"INCUS_DIR": dir}, Where: socket}
	}
	return Options{Command: "lxc", Env: map[string]string{"LXD_DIR": dir}, Where: socket}
}

// Driver manages containers with the lxc or incus command.
type Driver struct {
	*lifecycle.Driver
	h      *lxccmd.Runner
	server api.Server
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver that runs its command through via. It asks the
// host for GET /1.0 once, to check it answers and to learn its kind.
func New(ctx context.Context, via transport.Transport, opts Options) (*Driver, error) {
	commands := []string{opts.Command}
	if opts.Command == "" {
		commands = []string{"lxc", "incus"}
	}
	var err error
	for _, command := range commands {
		opts.Command = command
		d := Open(via, opts)
		_, err = queryAPI{d.h}.Query(ctx, http.MethodGet, "/1.0", nil, &d.server)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, errdefs.ErrUnavailable) {
			break // the command is there but failed: trying another would hide why
		}
	}
	return nil, err
}

// Open returns a driver that runs its command through via without asking
// the host anything first: errors show at the first call, and with an
// empty opts.Command the machine's shell picks lxc or incus at each call.
// Kind and Server are empty. Nested paths use it: it saves a round trip
// per level.
func Open(via transport.Transport, opts Options) *Driver {
	h := &lxccmd.Runner{Via: via, Command: opts.Command, Env: opts.Env, Remote: opts.Remote, Where: opts.Where, Project: opts.Project}
	return &Driver{h: h, Driver: lifecycle.New(queryAPI{h}, func(name string) transport.Transport { return h.Container(name) })}
}

// Host returns the host the driver runs its command on.
func (d *Driver) Host() *lxccmd.Runner { return d.h }

// Server returns what GET /1.0 answered.
func (d *Driver) Server() api.Server { return d.server }

// Kind returns "lxd" or "incus".
func (d *Driver) Kind() string { return d.server.Environment.Server }

// queryAPI is the host's REST API through `lxc query`, which waits for
// background operations itself. It cannot send If-Match: updates through
// it rely on the lifecycle's per-container lock instead of the ETag, and
// host.Collection.Replace (lxkit edit) reads the object again just before
// its PUT and refuses if it changed. Query reports no ETag ("").
type queryAPI struct{ h *lxccmd.Runner }

func (q queryAPI) Addr() string { return q.h.Addr() }

func (q queryAPI) Query(ctx context.Context, method, path string, body, out any) (string, error) {
	stdout, err := q.query(ctx, method, path, body)
	if err != nil {
		return "", err
	}
	// lxc and incus print nothing for an empty answer (metadata {}, as
	// GET /1.0/operations answers when none runs): out stays as it is.
	if out != nil && len(bytes.TrimSpace(stdout)) > 0 {
		if err := json.Unmarshal(stdout, out); err != nil {
			return "", errdefs.Wrap(errdefs.ErrInternal, err, "%s %s: decoding the answer of %s", method, path, q.h.Addr())
		}
	}
	return "", nil
}

func (q queryAPI) Do(ctx context.Context, method, path string, body any, _ string) (*api.Operation, error) {
	stdout, err := q.query(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	var op api.Operation
	_ = json.Unmarshal(stdout, &op) // a synchronous answer is no operation
	return &op, nil
}

func (q queryAPI) query(ctx context.Context, method, path string, body any) ([]byte, error) {
	return q.run(ctx, true, method, path, body)
}

// run runs `lxc query`, with --wait if wait (then the answer is the
// finished operation's, else the operation just started).
func (q queryAPI) run(ctx context.Context, wait bool, method, path string, body any) ([]byte, error) {
	args := []string{"query", "-X", method}
	if wait {
		args = append(args, "--wait")
	}
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		args = append(args, "--data", string(data))
	}
	args = append(args, q.h.QueryTarget(path))
	out, err := q.h.Run(ctx, nil, args...)
	if err != nil {
		if name, ok := hostapi.InstanceOf(path); ok {
			err = q.h.OnMember(ctx, name, err)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return out, nil
}
