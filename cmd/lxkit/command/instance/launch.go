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
	"github.com/lxkit/lxkit/host"
	"github.com/spf13/cobra"
)

// LaunchOptions are the inputs of `lxkit launch`.
type LaunchOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Driver  func(context.Context) (driver.Driver, error)
	// ImageSource finds a remote of that name to take images from.
	ImageSource func(ctx context.Context, name string) (host.ImageSource, bool, error)

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

	Ephemeral bool   // -e: deleted by the daemon when it stops
	Storage   string // -s: the pool of its root disk
	Network   string // -n: the network of its eth0
	VM        bool   // --vm: a virtual machine
}

// NewCmdLaunch returns `lxkit launch`. runF replaces the run function in
// tests.
func NewCmdLaunch(f *cmdutil.Factory, runF func(context.Context, *LaunchOptions) error) *cobra.Command {
	opts := &LaunchOptions{IO: f.IOStreams, Globals: f.Globals, Driver: f.Driver, ImageSource: f.ImageSource}
	var config, devices []string
	cmd := &cobra.Command{
		Use:   "launch [REMOTE:]IMAGE NAME | launch NAME --image [REMOTE:]ALIAS|FINGERPRINT",
		Short: "Create and start a container",
		Long: `Create a container from an image and start it. The image comes first, as
with lxc (launch images:debian/12 web), or in --image.

REMOTE:ALIAS takes the image from one of lxkit's, lxc's or incus's remotes
(lxkit remote list): an image server (simplestreams, as lxkit image serve
runs, or lxd) that the daemon pulls from, or another host that the daemon
pulls from over HTTPS. The image is copied to the host first, unless it has
it already (by fingerprint); on a terminal the daemon's download progress
shows. lxkit says which remote and image it used.

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

-s POOL puts its root disk in that storage pool and -n NETWORK attaches its
eth0 to that network, as lxc launch does; both replace what the profiles
say. -e makes it ephemeral: the daemon deletes it when it stops. --vm asks
for a virtual machine: the host needs a VM driver (KVM) and a VM image, and
lxkit passes on the daemon's answer, saying when the host has no VM driver.

A container that already exists is left as it is (launch succeeds).`,
		Example: `  lxkit launch testimage web
  lxkit launch myimages:debian/12 web
  lxkit launch web --image testimage
  lxkit launch web --image bef9ee819d41 -c limits.memory=256MiB
  lxkit launch web --image ubuntu/24.04 --server https://images.linuxcontainers.org --protocol simplestreams
  lxkit launch web --image testimage --device data,type=disk,source=/srv/data,path=/data
  lxkit launch scratch --image testimage -e -s fast -n lxdbr1`,
		Args: cmdutil.RangeArgs(1, 2, "a container name (after its image, as lxc)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[len(args)-1]
			if len(args) == 2 {
				if opts.Image != "" {
					return cmdutil.FlagErrorf("launch IMAGE NAME: --image names the image a second time")
				}
				opts.Image = args[0]
			}
			if opts.Image == "" {
				return cmdutil.FlagErrorf("--image is required (or launch IMAGE NAME)")
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
	fl.StringVar(&opts.Image, "image", "", "image alias or fingerprint (prefix), REMOTE:ALIAS for a remote's")
	fl.StringVar(&opts.Server, "server", "", "image server URL (default: the host's own images)")
	fl.StringVar(&opts.Protocol, "protocol", "", "image server protocol: lxd or simplestreams (default lxd)")
	fl.StringVar(&opts.CertFile, "certificate", "", "`PEMFILE` of the image server's certificate, for one no authority the daemon trusts has signed (lxkit image serve prints one)")
	fl.BoolVar(&opts.SkipIndexCheck, "skip-index-check", false, "let the daemon alone read the simplestreams server's index (for a server lxkit cannot reach)")
	fl.StringArrayVar(&opts.Profiles, "profile", nil, "profile to apply, repeatable (default: the \"default\" profile)")
	fl.StringArrayVarP(&config, "config", "c", nil, "config KEY=VALUE, repeatable")
	fl.StringArrayVar(&devices, "device", nil, "device NAME,type=TYPE,KEY=VALUE..., repeatable")
	fl.BoolVar(&opts.NoStart, "no-start", false, "create the container without starting it")
	fl.StringVar(&opts.Target, "target", "", "on a cluster, the member (or @GROUP) to place it on")
	fl.BoolVarP(&opts.Ephemeral, "ephemeral", "e", false, "make it ephemeral: the daemon deletes it when it stops")
	fl.StringVarP(&opts.Storage, "storage", "s", "", "the storage `POOL` of its root disk")
	fl.StringVarP(&opts.Network, "network", "n", "", "the `NETWORK` its eth0 is attached to")
	fl.BoolVar(&opts.VM, "vm", false, "make a virtual machine (the host needs KVM and a VM image)")
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
	devices, err := launchDevices(ctx, opts, d)
	if err != nil {
		return err
	}
	p := cmdutil.StartProgress(opts.IO, opts.Globals, "Launching "+opts.Name, false)
	if img.Server != "" {
		img.Progress = func(text string) { p.SetLabel("Launching " + opts.Name + ": " + text) }
	}
	err = d.Create(ctx, opts.Name, driver.CreateOptions{
		Image:     img,
		Profiles:  opts.Profiles,
		Config:    opts.Config,
		Devices:   devices,
		NoStart:   opts.NoStart,
		Target:    opts.Target,
		Ephemeral: opts.Ephemeral,
		VM:        opts.VM,
	})
	p.Stop()
	if err != nil && opts.VM {
		return noVMDriver(ctx, d, opts.Name, err)
	}
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
	if remote, ref, ok := strings.Cut(opts.Image, ":"); ok && opts.Server == "" {
		return remoteImage(ctx, opts, d, remote, ref)
	}
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

// launchDevices adds to --device's devices the root disk of -s and the
// eth0 of -n, as lxc launch makes them: a managed network is named, an
// unmanaged bridge or interface is the parent of a bridged or macvlan
// NIC.
func launchDevices(ctx context.Context, opts *LaunchOptions, d driver.Driver) (map[string]map[string]string, error) {
	devices := opts.Devices
	if opts.Storage == "" && opts.Network == "" {
		return devices, nil
	}
	if devices == nil {
		devices = map[string]map[string]string{}
	}
	if opts.Storage != "" {
		devices["root"] = map[string]string{"type": "disk", "path": "/", "pool": opts.Storage}
	}
	if opts.Network != "" {
		h, _, err := hostOf(ctx, d, opts.Name)
		if err != nil {
			return nil, err
		}
		n, err := h.Networks().Get(ctx, opts.Network)
		if err != nil {
			return nil, fmt.Errorf("-n %s: %w", opts.Network, err)
		}
		nic := map[string]string{"type": "nic", "name": "eth0", "network": n.Name}
		if !n.Managed {
			nic = map[string]string{"type": "nic", "name": "eth0", "nictype": "macvlan", "parent": n.Name}
			if n.Type == "bridge" {
				nic["nictype"] = "bridged"
			}
		}
		devices["eth0"] = nic
	}
	return devices, nil
}

// noVMDriver adds to a failed --vm launch's error that the host has no VM
// driver, when its environment says so (driver "lxc" alone, no "qemu"):
// then no VM can run there, whatever the image.
func noVMDriver(ctx context.Context, d driver.Driver, name string, err error) error {
	h, _, herr := hostOf(ctx, d, name)
	if herr != nil {
		return err
	}
	srv, serr := h.Server(ctx)
	if serr != nil || strings.Contains(srv.Environment.Driver, "qemu") {
		return err
	}
	return fmt.Errorf("%w (this host cannot run virtual machines: its instance drivers are %q, no qemu; KVM is missing or VMs are off)", err, srv.Environment.Driver)
}

// remoteImage brings the image ref of a remote (REMOTE:ALIAS) to the host
// that is to run the container, and names it there by fingerprint.
func remoteImage(ctx context.Context, opts *LaunchOptions, d driver.Driver, remote, ref string) (driver.Image, error) {
	if remote == "" || ref == "" {
		return driver.Image{}, cmdutil.FlagErrorf("image %q: expected REMOTE:ALIAS", opts.Image)
	}
	src, ok, err := opts.ImageSource(ctx, remote)
	if err != nil {
		return driver.Image{}, err
	}
	if !ok {
		return driver.Image{}, cmdutil.FlagErrorf("image %q: no remote %s (lxkit remote list)", opts.Image, remote)
	}
	h, _, err := hostOf(ctx, d, opts.Name)
	if err != nil {
		return driver.Image{}, err
	}
	label := "Fetching " + opts.Image
	p := cmdutil.StartProgress(opts.IO, opts.Globals, label, false)
	found, err := h.Images().Find(ctx, host.ImageQuery{Alias: ref}, []host.ImageSource{src},
		host.FindOptions{SkipLocal: true, Progress: p.Daemon(label)})
	p.Stop()
	if err != nil {
		return driver.Image{}, err
	}
	cmdutil.Info(opts.IO, opts.Globals, "Image %s from %s: %.12s", ref, found.Source, found.Fingerprint)
	return driver.Image{Fingerprint: found.Fingerprint}, nil
}
