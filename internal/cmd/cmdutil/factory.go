// Package cmdutil holds what every lxkit command shares: the Factory of
// lazily built dependencies, the global options, flag parsing helpers,
// output formatting and progress lines.
package cmdutil

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/internal/cmd/iostreams"
	"github.com/lxkit/lxkit/transport/local"
)

// Output formats of --format.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// Globals are the options of the root command, filled in by flag parsing
// before any command runs.
type Globals struct {
	Host   string // socket path or unix:// URL; empty detects the local daemon
	Driver string // DriverREST or DriverCLI
	Format string // FormatTable, FormatJSON or FormatYAML
	Quiet  bool   // no progress or informational lines
	Debug  bool   // log requests to stderr
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
	// Driver returns the driver of --driver for --host. Its container
	// names may be paths of nested containers, "outer/inner".
	Driver func(ctx context.Context) (driver.Driver, error)
}

// NewFactory returns the factory of a real run.
func NewFactory(ios *iostreams.IOStreams) *Factory {
	f := &Factory{IOStreams: ios, Globals: &Globals{Format: FormatTable, Driver: DriverREST}}
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
		var opts []client.Option
		if f.Globals.Debug {
			// The client logs method, path, status and duration: never
			// bodies, and websocket secrets never go through it.
			h := slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelDebug})
			opts = append(opts, client.WithLogger(slog.New(h)))
		}
		cl, err := client.New(ctx, f.Globals.Host, opts...)
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
		switch f.Globals.Driver {
		case DriverREST:
			cl, err := f.Client(ctx)
			if err != nil {
				return nil, err
			}
			top = cli.NewPaths(rest.New(cl))
		case DriverCLI:
			d, err := cli.New(ctx, local.New(), cliOptions(f.Globals.Host))
			if err != nil {
				return nil, err
			}
			top = cli.NewPaths(d)
		default:
			return nil, FlagErrorf("--driver %q: use rest or cli", f.Globals.Driver)
		}
		return top, nil
	}
	return f
}

// cliOptions says how the CLI driver reaches --host: a socket path or
// unix:// URL runs lxc (or incus, for an Incus socket) pointed at it; any
// other name is one of the command's remotes; empty is the detected local
// daemon.
func cliOptions(host string) cli.Options {
	if host == "" {
		if sock, err := client.DetectSocket(); err == nil {
			host = sock
		}
	}
	if host == "" || strings.HasPrefix(host, "unix://") || strings.Contains(host, "/") {
		if host == "" {
			return cli.Options{}
		}
		return cli.ForSocket(host)
	}
	return cli.Options{Remote: strings.TrimSuffix(host, ":"), Where: host}
}
