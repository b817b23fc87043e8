// Package trust is `lxkit trust` (which client certificates a host
// trusts), `lxkit cert` (this client's own certificate) and `lxkit listen`
// (a host's HTTPS listener).
package trust

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/spf13/cobra"
)

// Options are the inputs of the trust and listen commands.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Client  func(context.Context) (*client.Client, error)

	Args []string
	Name string
}

func newCmd(f *cmdutil.Factory, cmd *cobra.Command, args cobra.PositionalArgs, run func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Globals: f.Globals, Client: f.Client}
	cmd.Args = args
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Args = args
		return run(cmd.Context(), opts)
	}
	if cmd.Name() == "add" {
		cmd.Flags().StringVar(&opts.Name, "name", "", "name the host lists the certificate under (default: its common name)")
	}
	return cmd
}

// NewCmdTrust returns `lxkit trust` and its subcommands.
func NewCmdTrust(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust <command>",
		Short: "List, add and remove the client certificates a host trusts; issue trust tokens",
		Args:  cmdutil.ExactArgs(0, "a subcommand: list, add, remove or token"),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newCmd(f, &cobra.Command{Use: "list", Short: "List the certificates the host trusts"},
			cmdutil.ExactArgs(0, "no arguments"), listRun),
		newCmd(f, &cobra.Command{Use: "add CERTFILE [--name N]", Short: "Trust a client certificate (PEM file)"},
			cmdutil.ExactArgs(1, "one certificate file"), addRun),
		newCmd(f, &cobra.Command{Use: "remove FINGERPRINT", Short: "Stop trusting a certificate (a unique fingerprint prefix will do)"},
			cmdutil.ExactArgs(1, "one fingerprint"), removeRun),
		newCmd(f, &cobra.Command{Use: "token NAME", Short: "Issue a one-time trust token for a new client (see remote add --token)",
			Long: `Issue a one-time trust token with which a client becomes trusted by the
host (lxkit remote add NAME --token TOKEN, lxc remote add, incus remote add).
The host must listen on the network (lxkit listen). The token is printed on
stdout and nowhere else.`},
			cmdutil.ExactArgs(1, "one client name"), tokenRun),
	)
	return cmd
}

func listRun(ctx context.Context, opts *Options) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	list, err := c.Certificates(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, list, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTYPE\tFINGERPRINT\tRESTRICTED")
		for _, ct := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", ct.Name, ct.Type, ct.Fingerprint[:min(12, len(ct.Fingerprint))], ct.Restricted)
		}
		return tw.Flush()
	})
}

func addRun(ctx context.Context, opts *Options) error {
	cert, err := certs.ReadCertificate(opts.Args[0])
	if err != nil {
		return err
	}
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	name := opts.Name
	if name == "" {
		name = cert.Subject.CommonName
	}
	if err := c.TrustCertificate(ctx, name, cert); err != nil {
		return err
	}
	if !opts.Globals.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "Trusted %s (fingerprint %s)\n", name, certs.Fingerprint(cert))
	}
	return nil
}

func removeRun(ctx context.Context, opts *Options) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	return c.RemoveCertificate(ctx, opts.Args[0])
}

func tokenRun(ctx context.Context, opts *Options) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	token, err := c.CreateTrustToken(ctx, opts.Args[0])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(opts.IO.Out, token)
	return err
}

// NewCmdListen returns `lxkit listen`.
func NewCmdListen(f *cmdutil.Factory) *cobra.Command {
	return newCmd(f, &cobra.Command{
		Use:   "listen ADDRESS",
		Short: "Make the host serve its API over HTTPS on ADDRESS (core.https_address)",
		Long: `Make the host serve its API over HTTPS on ADDRESS (HOST:PORT, or :PORT for
every address), as core.https_address. Asking for the address it already
listens on does nothing.`,
		Example: `  lxkit listen 127.0.0.1:8443
  lxkit --host /var/lib/incus/unix.socket listen 127.0.0.1:8444`,
	}, cmdutil.ExactArgs(1, "one address, HOST:PORT"), func(ctx context.Context, opts *Options) error {
		c, err := opts.Client(ctx)
		if err != nil {
			return err
		}
		return c.EnableHTTPSListener(ctx, opts.Args[0])
	})
}

// NewCmdCert returns `lxkit cert`: this client's certificate.
func NewCmdCert(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert <command>",
		Short: "Generate or show this client's certificate",
		Args:  cmdutil.ExactArgs(0, "a subcommand: generate or show"),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var force bool
	gen := &cobra.Command{
		Use:   "generate [--force]",
		Short: "Generate lxkit's own client certificate (EC P-384; key mode 0600)",
		Args:  cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, err := certs.DefaultDirs()
			if err != nil {
				return err
			}
			own := dirs.OwnClientFiles()
			fp, err := certs.Generate(own.Cert, own.Key, certs.GenerateOptions{Overwrite: force})
			if err != nil {
				return err
			}
			return printCert(f, own, fp)
		},
	}
	gen.Flags().BoolVar(&force, "force", false, "replace an existing certificate and key")
	show := &cobra.Command{
		Use:   "show",
		Short: "Show which client certificate lxkit presents, and its fingerprint",
		Args:  cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := certs.DefaultClientFiles()
			if err != nil {
				return err
			}
			cert, err := certs.ReadCertificate(files.Cert)
			if err != nil {
				return err
			}
			return printCert(f, files, certs.Fingerprint(cert))
		},
	}
	cmd.AddCommand(gen, show)
	return cmd
}

func printCert(f *cmdutil.Factory, files certs.ClientFiles, fp string) error {
	out := struct {
		Certificate string `json:"certificate"`
		Key         string `json:"key"`
		Source      string `json:"source"`
		Fingerprint string `json:"fingerprint"`
	}{files.Cert, files.Key, files.Source, fp}
	return cmdutil.Print(f.IOStreams, f.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "certificate: %s\nkey:         %s\nsource:      %s\nfingerprint: %s\n", files.Cert, files.Key, files.Source, fp)
		return err
	})
}
