// Package cmdutil holds what every lxkit command shares: the Factory of
// lazily built dependencies, the global options, flag parsing helpers,
// output formatting and progress lines.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/remotes"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/transport/local"
	sshtransport "github.com/lxkit/lxkit/transport/ssh"
)

// Output formats of --format.
const (
	FormatTable   = "table"
	FormatCompact = "compact"
	FormatCSV     = "csv"
	FormatJSON    = "json"
	FormatYAML    = "yaml"
)

// Globals are the options of the root command, filled in by flag parsing
// before any command runs.
type Globals struct {
	Host     string // see ResolveHost; empty is the default remote
	Driver   string // DriverREST or DriverCLI; empty picks (cli for ssh://, else rest)
	Insecure bool   // do not verify an HTTPS daemon's certificate
	Format   string // one of Formats
	Quiet    bool   // no progress or informational lines
	Debug    bool   // log requests to stderr
	Project  string // the project to work in; empty is the remote's, else the daemon's default
	// RequestTimeout bounds each wait for an API host: for an answer to
	// start, for a whole JSON answer, for a transfer to move on (see
	// client.WithResponseTimeout and WithReadTimeout). Zero is the
	// client's defaults.
	RequestTimeout time.Duration
}

// Drivers of --driver.
const (
	DriverREST = "rest"
	DriverCLI  = "cli"
)

// Factory gives commands their dependencies. The funcs are lazy: nothing
// connects to a daemon until a command asks for a driver.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Globals   *Globals
	// Client connects to the daemon of --host, once.
	Client func(ctx context.Context) (*client.Client, error)
	// Remotes opens the remotes store (lxkit's, and lxc's and incus's read
	// only), once.
	Remotes func() (*remotes.Store, error)
	// Driver returns the driver of --driver for --host. Its container
	// names may be paths of nested containers, "outer/inner".
	Driver func(ctx context.Context) (driver.Driver, error)
	// DriverIn returns a new driver as Driver's, working in another
	// project of the host (for what a command makes there).
	DriverIn func(ctx context.Context, project string) (driver.Driver, error)

	// --host, resolved once (after flag parsing) by host.
	resolveOnce sync.Once
	resolved    Target
	resolveErr  error
}

// NewFactory returns the factory of a real run.
func NewFactory(ios *iostreams.IOStreams) *Factory {
	f := &Factory{IOStreams: ios, Globals: &Globals{Format: FormatTable}}
	f.Remotes = sync.OnceValues(remotes.Open)
	var (
		mu sync.Mutex
		c  *client.Client
	)
	f.Client = func(ctx context.Context) (*client.Client, error) {
		mu.Lock()
		defer mu.Unlock()
		if c != nil {
			return c, nil
		}
		h, store, err := f.host()
		if err != nil {
			return nil, err
		}
		opts := f.ClientOptions()
		if f.Globals.Project != "" {
			opts = append(opts, client.WithProject(f.Globals.Project))
		}
		if f.Globals.Insecure && h.HTTPS() {
			fmt.Fprintf(ios.ErrOut, "Warning: --insecure: the certificate of %s is not verified\n", h.describe())
		}
		cl, err := connect(ctx, h, store, f.Globals, opts)
		if err != nil {
			return nil, err
		}
		c = cl
		return c, nil
	}
	var top driver.Driver
	f.Driver = func(ctx context.Context) (driver.Driver, error) {
		if top != nil {
			return top, nil
		}
		d, err := f.newDriver(ctx, f.Globals.Project, f.Client)
		if err != nil {
			return nil, err
		}
		top = d
		return top, nil
	}
	f.DriverIn = func(ctx context.Context, project string) (driver.Driver, error) {
		return f.newDriver(ctx, project, func(ctx context.Context) (*client.Client, error) {
			h, store, err := f.host()
			if err != nil {
				return nil, err
			}
			return connect(ctx, h, store, f.Globals, append(f.ClientOptions(), client.WithProject(project)))
		})
	}
	return f
}

// newDriver makes the driver of --driver for --host, in project (empty:
// the remote's, else the daemon's default); the REST driver gets its
// client from open.
func (f *Factory) newDriver(ctx context.Context, project string, open func(context.Context) (*client.Client, error)) (driver.Driver, error) {
	h, _, err := f.host()
	if err != nil {
		return nil, err
	}
	kind := f.Globals.Driver
	if kind == "" {
		kind = DriverREST
		if h.SSH() {
			kind = DriverCLI
		}
	}
	var d driver.Driver
	switch kind {
	case DriverREST:
		cl, err := open(ctx)
		if err != nil {
			return nil, err
		}
		d = nested.New(rest.New(cl))
	case DriverCLI:
		cd, err := cliDriver(ctx, h, project)
		if err != nil {
			return nil, err
		}
		d = nested.New(cd)
	default:
		return nil, FlagErrorf("--driver %q: use rest or cli", f.Globals.Driver)
	}
	if err := projectExists(ctx, d, project); err != nil {
		return nil, err
	}
	return d, nil
}

// projectExists checks the project of --project once, so that a
// misspelt one is named as what is missing (the daemons would otherwise
// report the first thing the project lacks, such as an image).
func projectExists(ctx context.Context, d driver.Driver, project string) error {
	if project == "" {
		return nil
	}
	h := host.New(d.API())
	ok, err := h.Projects().Exists(ctx, project)
	if err != nil {
		return err
	}
	if !ok {
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "--project %s: no such project on %s", project, h.Addr())
	}
	return nil
}

// ClientOptions are the options of every client a command opens: its
// --request-timeout, and with --debug a logger on stderr. The client logs
// method, path, status and duration: never bodies (where passwords and
// tokens travel), and websocket secrets never go through it.
func (f *Factory) ClientOptions() []client.Option {
	var opts []client.Option
	if d := f.Globals.RequestTimeout; d > 0 {
		opts = append(opts, client.WithResponseTimeout(d), client.WithReadTimeout(d))
	}
	if f.Globals.Debug {
		h := slog.NewTextHandler(f.IOStreams.ErrOut, &slog.HandlerOptions{Level: slog.LevelDebug})
		opts = append(opts, client.WithLogger(slog.New(h)))
	}
	return opts
}

// host resolves --host with the remotes store. A socket named by its
// path needs no store (nil): lxkit's, lxc's and incus's configuration
// files are then not read.
func (f *Factory) host() (Target, *remotes.Store, error) {
	if h, ok := socketTarget(f.Globals.Host); ok {
		return h, nil, nil
	}
	store, err := f.Remotes()
	if err != nil {
		return Target{}, nil, err
	}
	f.resolveOnce.Do(func() {
		f.resolved, f.resolveErr = ResolveHost(store, f.Globals.Host)
		var bad *client.AddrError
		switch { // a usage error: exit 2
		case errors.As(f.resolveErr, &bad):
			f.resolveErr = FlagErrorf("--host %q: %s", bad.Addr, bad.Why)
		case errors.Is(f.resolveErr, errdefs.ErrInvalidArgument):
			f.resolveErr = &FlagError{Err: fmt.Errorf("--host: %w", f.resolveErr)}
		}
	})
	return f.resolved, store, f.resolveErr
}

// cliDriver runs lxc or incus for the host: here, or over SSH on the
// machine --host names; in project when it is set.
func cliDriver(ctx context.Context, h Target, project string) (driver.Driver, error) {
	if h.SSH() {
		cfg, err := sshtransport.ParseURL(h.Addr)
		if err != nil {
			return nil, err
		}
		tr, err := sshtransport.Dial(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return cli.New(ctx, tr, cli.Options{Where: h.Addr, Project: project})
	}
	o, err := cliOptions(h)
	if err != nil {
		return nil, err
	}
	o.Project = project
	return cli.New(ctx, local.New(), o)
}

// cliOptions says how the CLI driver on this machine reaches a host: a
// socket runs lxc (or incus, for an Incus socket) pointed at it; an HTTPS
// remote of lxc's or incus's is passed to that command by name; no host is
// the detected local daemon.
func cliOptions(h Target) (cli.Options, error) {
	switch {
	case h.HTTPS() && h.Remote != nil && h.Remote.Source == remotes.SourceLXC:
		return cli.Options{Command: "lxc", Remote: h.Remote.Name, Where: h.describe()}, nil
	case h.HTTPS() && h.Remote != nil && h.Remote.Source == remotes.SourceIncus:
		return cli.Options{Command: "incus", Remote: h.Remote.Name, Where: h.describe()}, nil
	case h.HTTPS():
		return cli.Options{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"%s: --driver cli reaches HTTPS hosts only through remotes that lxc or incus know; use the REST driver", h.describe())
	case h.Addr != "":
		if filepath.Base(h.Addr) != "unix.socket" {
			return cli.Options{}, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
				"%s: --driver cli finds a socket through LXD_DIR or INCUS_DIR, as DIR/unix.socket; use the REST driver for one named otherwise", h.Addr)
		}
		return cli.ForSocket(h.Addr), nil
	}
	if sock, err := client.DetectSocket(); err == nil {
		return cli.ForSocket(sock), nil
	}
	return cli.Options{}, nil
}

// ClientFor connects to a host named as --host names one (a remote, a
// socket, unix:// or https://), for commands that involve a second host.
func (f *Factory) ClientFor(ctx context.Context, hostSpec string) (*client.Client, error) {
	store, err := f.Remotes()
	if err != nil {
		return nil, err
	}
	h, err := ResolveHost(store, hostSpec)
	if err != nil {
		return nil, err
	}
	return connect(ctx, h, store, f.Globals, f.ClientOptions())
}

// ImageSource returns the remote named name (lxkit's, lxc's or incus's)
// as a place to find images, and ok false when no remote has that name.
// An image server (simplestreams, or a public lxd one) is pulled from by
// the daemon, trusting the certificate pinned for it; a host remote is
// connected to, and pulled from over HTTPS at its address.
func (f *Factory) ImageSource(ctx context.Context, name string) (src host.ImageSource, ok bool, err error) {
	store, err := f.Remotes()
	if err != nil {
		return src, false, err
	}
	r, err := store.Get(name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return src, false, nil
	} else if err != nil {
		return src, false, err
	}
	src.Name = r.Name
	if r.Public || r.Protocol == host.ProtocolSimpleStreams {
		s := host.ImageServer{URL: r.Addr, Protocol: host.ProtocolSimpleStreams}
		if r.Protocol != host.ProtocolSimpleStreams {
			s.Protocol = host.ProtocolLXD
		}
		if r.ServerCertPath != "" {
			pem, err := os.ReadFile(r.ServerCertPath)
			if err != nil {
				return src, true, fmt.Errorf("remote %s: %w", r.Name, err)
			}
			s.Certificate = string(pem)
		}
		src.Server = &s
		return src, true, nil
	}
	c, err := f.ClientFor(ctx, name)
	if err != nil {
		return src, true, fmt.Errorf("remote %s: %w", r.Name, err)
	}
	src.Host = host.New(c)
	if strings.HasPrefix(r.Addr, "https://") {
		src.Addr = r.Addr
	}
	return src, true, nil
}
