// Package instance holds the commands that manage containers: launch,
// update, start, stop, delete, status, show, state, list and wait.
package instance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/spf13/cobra"
)

// LaunchOptions are the inputs of `lxkit launch`.
type LaunchOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)

	Name     string
	Image    string
	Server   string
	Protocol string
	// CertFile is the PEM file of the server's certificate (--certificate).
	CertFile string
	// SkipIndexCheck leaves a simplestreams server's index to the daemon
	// (--skip-index-check; see host.ImageServer).
	SkipIndexCheck bool

	Profiles []string // nil keeps the "default" profile
	Config   map[string]string
	Devices  map[string]map[string]string
	NoStart  bool
	Target   string // a cluster member, or @GROUP
}

// NewCmdLaunch returns `lxkit launch`. runF replaces the run function in
// tests.
func NewCmdLaunch(f *cmdutil.Factory, runF func(context.Context, *LaunchOptions) error) *cobra.Command {
	opts := &LaunchOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver}
	var config, devices []string
	cmd := &cobra.Command{
		Use:   "launch NAME --image ALIAS|FINGERPRINT",
		Short: "Create and start a container",
		Long: `Create a container from an image and start it.

--image is first looked up as an alias of the host's images. When no such
alias exists and the value is hexadecimal and at least 12 characters long,
it is used as a fingerprint prefix (as 'lxc image list' shows them). With
--server the image is on that server: the value is an alias there, unless it
is a whole 64-character fingerprint.

Before the daemon pulls from a simplestreams server, lxkit reads the
server's index itself and refuses one the daemon should not act on (paths
that leave the server, fingerprints that are not SHA-256s, sizes that lie,
an index that never ends); --skip-index-check leaves it to the daemon, for
a server that only the daemon reaches. A pull with no progress for five
minutes is given up, and cancelled where the daemon can.

A container that already exists is left as it is (launch succeeds).`,
		Example: `  lxkit launch web --image testimage
  lxkit launch web --image bef9ee819d41 -c limits.memory=256MiB
  lxkit launch web --image ubuntu/24.04 --server https://images.linuxcontainers.org --protocol simplestreams
  lxkit launch web --image testimage --device data,type=disk,source=/srv/data,path=/data`,
		Args: cmdutil.ExactArgs(1, "one container name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Image == "" {
				return cmdutil.FlagErrorf("--image is required")
			}
			switch opts.Protocol {
			case "", "lxd", "simplestreams":
			default:
				return cmdutil.FlagErrorf("--protocol %q: use lxd or simplestreams", opts.Protocol)
			}
			if opts.Protocol != "" && opts.Server == "" {
				return cmdutil.FlagErrorf("--protocol needs --server")
			}
			if opts.CertFile != "" && opts.Server == "" {
				return cmdutil.FlagErrorf("--certificate needs --server")
			}
			if opts.SkipIndexCheck && opts.Protocol != "simplestreams" {
				return cmdutil.FlagErrorf("--skip-index-check is for --protocol simplestreams")
			}
			var err error
			if opts.Config, err = cmdutil.ParseConfig(config, false); err != nil {
				return &cmdutil.FlagError{Err: fmt.Errorf("-c: %w", err)}
			}
			if opts.Devices, err = cmdutil.ParseDevices(devices); err != nil {
				return &cmdutil.FlagError{Err: fmt.Errorf("--device: %w", err)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return launchRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Image, "image", "", "image alias or fingerprint (prefix)")
	fl.StringVar(&opts.Server, "server", "", "image server URL (default: the host's own images)")
	fl.StringVar(&opts.Protocol, "protocol", "", "image server protocol: lxd or simplestreams (default lxd)")
	fl.StringVar(&opts.CertFile, "certificate", "", "`PEMFILE` of the image server's certificate, for one no authority the daemon trusts has signed (lxkit image serve prints one)")
	fl.BoolVar(&opts.SkipIndexCheck, "skip-index-check", false, "let the daemon alone read the simplestreams server's index (for a server lxkit cannot reach)")
	fl.StringArrayVar(&opts.Profiles, "profile", nil, "profile to apply, repeatable (default: the \"default\" profile)")
	fl.StringArrayVarP(&config, "config", "c", nil, "config KEY=VALUE, repeatable")
	fl.StringArrayVar(&devices, "device", nil, "device NAME,type=TYPE,KEY=VALUE..., repeatable")
	fl.BoolVar(&opts.NoStart, "no-start", false, "create the container without starting it")
	fl.StringVar(&opts.Target, "target", "", "on a cluster, the member (or @GROUP) to place it on")
	return cmd
}

func launchRun(ctx context.Context, opts *LaunchOptions) error {
	if err := cmdutil.ValidateNames(opts.Name); err != nil {
		return err
	}
	d, err := opts.Driver(ctx)
	if err != nil {
		return err
	}
	img, err := resolveImage(ctx, opts, d)
	if err != nil {
		return err
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Launching "+opts.Name, false)
	err = d.Create(ctx, opts.Name, driver.CreateOptions{
		Image:    img,
		Profiles: opts.Profiles,
		Config:   opts.Config,
		Devices:  opts.Devices,
		NoStart:  opts.NoStart,
		Target:   opts.Target,
	})
	p.Stop()
	if err != nil {
		return err
	}
	cmdutil.Success(opts.IO, opts.Globals, "Launched %s", opts.Name)
	return nil
}

// resolveImage decides whether --image is an alias or a fingerprint (see
// the command's help), asking the host that is to run the container
// through d: the one inside outer for outer/web.
func resolveImage(ctx context.Context, opts *LaunchOptions, d driver.Driver) (driver.Image, error) {
	img := driver.Image{Server: opts.Server, Protocol: opts.Protocol, SkipIndexCheck: opts.SkipIndexCheck}
	if opts.CertFile != "" {
		pem, err := os.ReadFile(opts.CertFile)
		if err != nil {
			return img, fmt.Errorf("--certificate: %w", err)
		}
		if !strings.Contains(string(pem), "-----BEGIN CERTIFICATE-----") {
			return img, errdefs.Wrap(errdefs.ErrInvalidArgument, nil, "--certificate %s: not a PEM certificate", opts.CertFile)
		}
		img.Certificate = string(pem)
	}
	if opts.Server != "" {
		if isHex(opts.Image) && len(opts.Image) == 64 {
			img.Fingerprint = opts.Image
		} else {
			img.Alias = opts.Image
		}
		return img, nil
	}
	img.Alias = opts.Image
	if !LooksLikeFingerprint(opts.Image) {
		return img, nil
	}
	if i := strings.LastIndexByte(opts.Name, '/'); i >= 0 {
		var err error
		if d, err = driver.HostAt(ctx, d, opts.Name[:i]); err != nil {
			return img, err
		}
	}
	_, err := d.API().Query(ctx, http.MethodGet, "/1.0/images/aliases/"+url.PathEscape(opts.Image), nil, nil)
	switch {
	case err == nil:
		return img, nil
	case errors.Is(err, errdefs.ErrNotFound):
		return driver.Image{Fingerprint: strings.ToLower(opts.Image)}, nil
	}
	return img, err
}

// LooksLikeFingerprint reports whether an --image value that is not an
// alias is taken as a fingerprint prefix: 12 or more hexadecimal digits.
func LooksLikeFingerprint(s string) bool { return len(s) >= 12 && isHex(s) }

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return s != ""
}
