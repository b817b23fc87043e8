package image

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/imageserver"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/internal/certs/atomicfile"
	"github.com/spf13/cobra"
)

// ServeOptions are the inputs of `lxkit image serve`.
type ServeOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals

	Dir    string
	Listen string
	// CertFile and KeyFile are the server's certificate and key; both
	// empty means a self-signed pair made for this run. Files that do not
	// exist yet are made (self-signed) and kept.
	CertFile, KeyFile string
	// Aliases maps an alias to an image file's name or a fingerprint.
	Aliases map[string]string
	// Ready, if set, is called once the server listens, with its URL
	// (for tests).
	Ready func(url string)
}

// DefaultListen is where `lxkit image serve` listens without --listen:
// loopback, on a port the system picks.
const DefaultListen = "127.0.0.1:0"

// NewCmdServe returns `lxkit image serve`. runF replaces the run function
// in tests.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IOStreams, Globals: f.Globals}
	var aliases []string
	cmd := &cobra.Command{
		Use:   "serve DIR [--listen HOST:PORT] [--cert FILE --key FILE] [--alias NAME=FILE|FINGERPRINT]...",
		Short: "Serve the image files of a directory as a simplestreams image server",
		Long: `Serve the images in DIR over HTTPS as a simplestreams image server, the
protocol LXD and Incus pull public images with, until interrupted.

DIR holds images as 'lxkit image export' or 'lxc image export' write them:
unified tarballs, and split images as meta-NAME.EXT next to NAME.EXT. Each
image is offered by its fingerprint (the one a host computes when it imports
the same files), by the name of its file when that is not a fingerprint
(debian.tar.xz is "debian"), and by the aliases --alias gives. Files that are
not images are left out, with a warning.

The server's certificate is --cert/--key, made (self-signed) if those files
do not exist yet; without them, a self-signed pair is made for this run. The
URL, the certificate's fingerprint, the images and the certificate itself
(PEM) are printed. A host pulls from the server with the URL, the protocol
"simplestreams" and, the certificate being self-signed, the certificate as
the image source's "certificate" (host.ImageServer, driver.Image).

Only hosts that reach the address pull from it: the default, 127.0.0.1 on a
free port, serves the daemons of this machine. The daemons keep a server's
index for an hour, by URL: after changing DIR, serve it on another port.`,
		Example: `  lxkit image serve ./images
  lxkit image serve ./images --listen 10.0.3.1:8999 --cert srv.crt --key srv.key --alias busybox=a7a3ac44f933`,
		Args: cmdutil.ExactArgs(1, "one directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if (opts.CertFile == "") != (opts.KeyFile == "") {
				return cmdutil.FlagErrorf("give --cert and --key together")
			}
			opts.Aliases = map[string]string{}
			for _, a := range aliases {
				name, target, ok := strings.Cut(a, "=")
				if !ok || name == "" || target == "" {
					return cmdutil.FlagErrorf("--alias %q: expected NAME=FILE or NAME=FINGERPRINT", a)
				}
				opts.Aliases[name] = target
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", DefaultListen, "address to listen on, HOST:PORT (port 0: any free one)")
	fl.StringVar(&opts.CertFile, "cert", "", "server certificate, PEM (made if missing)")
	fl.StringVar(&opts.KeyFile, "key", "", "server key, PEM (made if missing, mode 0600)")
	fl.StringArrayVar(&aliases, "alias", nil, "alias NAME=FILE or NAME=FINGERPRINT, repeatable")
	return cmd
}

// serveInfo is what serve prints when it is ready.
type serveInfo struct {
	URL         string              `json:"url"`
	Fingerprint string              `json:"fingerprint"`
	Certificate string              `json:"certificate"`
	Images      []imageserver.Image `json:"images"`
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	var logger *slog.Logger
	if !opts.Globals.Quiet {
		logger = slog.New(slog.NewTextHandler(opts.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := imageserver.New(ctx, opts.Dir, imageserver.Options{Aliases: opts.Aliases, Logger: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, p := range srv.Problems() {
		fmt.Fprintf(opts.IO.ErrOut, "Warning: %v\n", p)
	}
	if len(srv.Images()) == 0 {
		return errdefs.Wrap(errdefs.ErrNotFound, nil, "no image files in %s", opts.Dir)
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return cmdutil.FlagErrorf("--listen %q: expected HOST:PORT", opts.Listen)
	}
	cert, certPEM, err := serverCertificate(opts, host)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return err
	}
	info := serveInfo{URL: "https://" + urlHost(l.Addr()), Fingerprint: certs.FingerprintDER(cert.Certificate[0]),
		Certificate: string(certPEM), Images: srv.Images()}
	if err := printServeInfo(opts, info); err != nil {
		l.Close()
		return err
	}
	if opts.Ready != nil {
		opts.Ready(info.URL)
	}
	return srv.ServeTLS(ctx, l, cert)
}

// urlHost is the listener's address as a URL names it: a wildcard address
// is replaced by this machine's name, which the certificate holds.
func urlHost(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

func printServeInfo(opts *ServeOptions, info serveInfo) error {
	return cmdutil.Print(opts.IO, opts.Globals.Format, info, func(w io.Writer) error {
		fmt.Fprintf(w, "URL: %s\nProtocol: simplestreams\nCertificate fingerprint: %s\n\n", info.URL, info.Fingerprint)
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "ALIASES\tFINGERPRINT\tARCHITECTURE\tTYPE\tFILES")
		for _, im := range info.Images {
			aliases := strings.Join(im.Aliases, ",")
			if aliases == "" {
				aliases = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", aliases, im.Fingerprint[:12], im.Architecture, im.Type, strings.Join(im.Files, " "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "\n%s", info.Certificate)
		return err
	})
}

// serverCertificate loads the certificate and key of --cert and --key,
// making them first if neither file exists, or makes a pair for this run.
func serverCertificate(opts *ServeOptions, host string) (tls.Certificate, []byte, error) {
	if opts.CertFile == "" {
		certPEM, keyPEM, err := imageserver.NewCertificate(host)
		if err != nil {
			return tls.Certificate{}, nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		return cert, certPEM, err
	}
	_, cerr := os.Stat(opts.CertFile)
	_, kerr := os.Stat(opts.KeyFile)
	switch {
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
		certPEM, keyPEM, err := imageserver.NewCertificate(host)
		if err != nil {
			return tls.Certificate{}, nil, err
		}
		if err := atomicfile.Create(opts.KeyFile, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, nil, err
		}
		if err := atomicfile.Create(opts.CertFile, certPEM, 0o644); err != nil {
			return tls.Certificate{}, nil, err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Made a self-signed certificate: %s (key %s)\n", opts.CertFile, opts.KeyFile)
	case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
		return tls.Certificate{}, nil, cerr
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return tls.Certificate{}, nil, kerr
	case cerr != nil || kerr != nil:
		return tls.Certificate{}, nil, errdefs.Wrap(errdefs.ErrInvalidArgument, nil,
			"only one of %s and %s exists: give both, or neither to make a pair", opts.CertFile, opts.KeyFile)
	}
	cert, err := certs.LoadKeyPair(opts.CertFile, opts.KeyFile)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM, err := os.ReadFile(opts.CertFile)
	return cert, certPEM, err
}
