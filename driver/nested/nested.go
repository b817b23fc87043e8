// Package nested is a driver whose container names may be paths of
// nested containers, "outer/middle/inner": each level below the top is
// the LXD (or Incus) inside a container, reached by a CLI driver
// (driver/cli) through the transport of the level above. It works over
// any top driver.
package nested

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/hostapi"
	"github.com/lxkit/lxkit/transport"
)

// Driver is a driver.Driver whose container names may be paths of nested
// containers, "outer/middle/inner": every name but the last is a container
// with its own LXD (or Incus), reached by a CLI driver through the
// transport of the level above. Plain names go to the top driver as they
// are. The drivers of the levels are made once and kept; they ask nothing
// of their host before the first real call, so that reaching a container
// three levels down costs no more round trips than the call itself.
type Driver struct {
	top driver.Driver

	mu    sync.Mutex
	hosts map[string]driver.Driver // by path of the container that runs them
}

var _ driver.Nester = (*Driver)(nil)

// New returns a Driver that resolves nested paths below top.
func New(top driver.Driver) *Driver {
	return &Driver{top: top, hosts: map[string]driver.Driver{}}
}

// Resolve returns the driver of the host that runs the last container of
// path, and that container's name there.
func (p *Driver) Resolve(ctx context.Context, path string) (driver.Driver, string, error) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return p.top, path, nil
	}
	for _, part := range strings.Split(path, "/") {
		if err := driver.ValidateName(part); err != nil {
			return nil, "", fmt.Errorf("container path %q: %w", path, err)
		}
	}
	outer, name := path[:i], path[i+1:]
	p.mu.Lock()
	d, ok := p.hosts[outer]
	p.mu.Unlock()
	if ok {
		return d, name, nil
	}
	parent, hop, err := p.Resolve(ctx, outer)
	if err != nil {
		return nil, "", err
	}
	d = cli.Open(parent.Transport(hop), cli.Options{Where: outer})
	p.mu.Lock()
	p.hosts[outer] = d
	p.mu.Unlock()
	return d, name, nil
}

// API returns the top host's API; Host gives a nested host's.
func (p *Driver) API() hostapi.API { return p.top.API() }

// Host returns the driver of the host at path: the top host for "", else
// the LXD (or Incus) inside the container path names ("outer/inner" is
// the one inside inner, which runs in outer).
func (p *Driver) Host(ctx context.Context, path string) (driver.Driver, error) {
	if path == "" {
		return p.top, nil
	}
	d, _, err := p.Resolve(ctx, path+"/x")
	return d, err
}

func (p *Driver) Create(ctx context.Context, path string, opts driver.CreateOptions) error {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return err
	}
	return d.Create(ctx, name, opts)
}

func (p *Driver) Update(ctx context.Context, path string, opts driver.UpdateOptions) error {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return err
	}
	return d.Update(ctx, name, opts)
}

func (p *Driver) Start(ctx context.Context, path string) error {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return err
	}
	return d.Start(ctx, name)
}

func (p *Driver) Stop(ctx context.Context, path string, opts driver.StopOptions) error {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return err
	}
	return d.Stop(ctx, name, opts)
}

func (p *Driver) Delete(ctx context.Context, path string) error {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return err
	}
	return d.Delete(ctx, name)
}

func (p *Driver) Status(ctx context.Context, path string) (string, error) {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return "", err
	}
	return d.Status(ctx, name)
}

func (p *Driver) Instance(ctx context.Context, path string) (*api.Instance, error) {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return nil, err
	}
	return d.Instance(ctx, name)
}

func (p *Driver) State(ctx context.Context, path string) (*api.InstanceState, error) {
	d, name, err := p.Resolve(ctx, path)
	if err != nil {
		return nil, err
	}
	return d.State(ctx, name)
}

// List lists the top host's containers; Host(path).List a nested host's.
func (p *Driver) List(ctx context.Context) ([]api.Instance, error) { return p.top.List(ctx) }

// Transport returns a transport into the container at path. For a nested
// path, the levels are reached at its first use, and errors show there.
func (p *Driver) Transport(path string) transport.Transport {
	if !strings.Contains(path, "/") {
		return p.top.Transport(path)
	}
	return &lazyTransport{p: p, path: path}
}

// lazyTransport resolves its path when first used.
type lazyTransport struct {
	p           *Driver
	path        string
	user, group string
}

func (l *lazyTransport) get(ctx context.Context) (transport.Transport, error) {
	d, name, err := l.p.Resolve(ctx, l.path)
	if err != nil {
		return nil, err
	}
	t := d.Transport(name)
	if l.user != "" || l.group != "" {
		return transport.As(t, l.user, l.group)
	}
	return t, nil
}

func (l *lazyTransport) As(user, group string) transport.Transport {
	return &lazyTransport{p: l.p, path: l.path, user: user, group: group}
}

func (l *lazyTransport) Exec(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	t, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return t.Exec(ctx, cmd)
}

func (l *lazyTransport) ReadFile(ctx context.Context, path string) (io.ReadCloser, error) {
	t, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return t.ReadFile(ctx, path)
}

func (l *lazyTransport) WriteFile(ctx context.Context, path string, r io.Reader, opts transport.FileOptions) error {
	t, err := l.get(ctx)
	if err != nil {
		return err
	}
	return t.WriteFile(ctx, path, r, opts)
}

func (l *lazyTransport) UploadFolder(ctx context.Context, local, remoteDir string) error {
	t, err := l.get(ctx)
	if err != nil {
		return err
	}
	return transport.UploadFolder(ctx, t, local, remoteDir)
}

func (l *lazyTransport) DownloadFolder(ctx context.Context, remote, localDir string) (transport.FolderSummary, error) {
	t, err := l.get(ctx)
	if err != nil {
		return transport.FolderSummary{}, err
	}
	return transport.DownloadFolder(ctx, t, remote, localDir)
}
