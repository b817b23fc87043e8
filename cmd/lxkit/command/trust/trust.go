// Package trust is `lxkit trust` (which client certificates a host
// trusts), `lxkit cert` (this client's own certificate) and `lxkit listen`
// (a host's HTTPS listener).
package trust

import (
	"context"
	"fmt"
	"io"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/spf13/cobra"
)

// Options are the inputs of the commands here: each fills the fields its
// flags and arguments name.
type Options struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Client  func(context.Context) (*client.Client, error)

	Args  []string
	Name  string // trust add --name
	Force bool   // cert generate --force
}

// runFunc runs a command with its options.
type runFunc = func(context.Context, *Options) error

// newCmd completes cmd: its arguments checked by args go to opts.Args,
// then runF runs (a test's), or run.
func newCmd(f *cmdutil.Factory, cmd *cobra.Command, args cobra.PositionalArgs, runF, run runFunc) (*cobra.Command, *Options) {
	opts := &Options{IO: f.IOStreams, Globals: f.Globals, Client: f.Client}
	cmd.Args = args
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Args = args
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
	return cmd, opts
}

// NewCmdTrust returns `lxkit trust` and its subcommands.
func NewCmdTrust(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust <command>",
		Short: "List, add and remove the client certificates a host trusts; issue trust tokens",
		Args:  cmdutil.ExactArgs(0, "a subcommand: list, add, remove or token"),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdTrustList(f, nil), NewCmdTrustAdd(f, nil), NewCmdTrustRemove(f, nil), NewCmdTrustToken(f, nil))
	return cmd
}

// NewCmdTrustList returns `lxkit trust list`.
func NewCmdTrustList(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, _ := newCmd(f, &cobra.Command{Use: "list", Short: "List the certificates the host trusts"},
		cmdutil.ExactArgs(0, "no arguments"), runF, listRun)
	return cmd
}

// NewCmdTrustAdd returns `lxkit trust add`.
func NewCmdTrustAdd(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, opts := newCmd(f, &cobra.Command{Use: "add CERTFILE [--name N]", Short: "Trust a client certificate (PEM file)"},
		cmdutil.ExactArgs(1, "one certificate file"), runF, addRun)
	cmd.Flags().StringVar(&opts.Name, "name", "", "name the host lists the certificate under (default: its common name)")
	return cmd
}

// NewCmdTrustRemove returns `lxkit trust remove`.
func NewCmdTrustRemove(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, _ := newCmd(f, &cobra.Command{Use: "remove FINGERPRINT", Short: "Stop trusting a certificate (a unique fingerprint prefix will do)"},
		cmdutil.ExactArgs(1, "one fingerprint"), runF, removeRun)
	return cmd
}

// NewCmdTrustToken returns `lxkit trust token`.
func NewCmdTrustToken(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, _ := newCmd(f, &cobra.Command{Use: "token NAME", Short: "Issue a one-time trust token for a new client (see remote add --token)",
		Long: `Issue a one-time trust token with which a client becomes trusted by the
host (lxkit remote add NAME --token TOKEN, lxc remote add, incus remote add).
The host must listen on the network (lxkit listen). The token is printed on
stdout and nowhere else.`},
		cmdutil.ExactArgs(1, "one client name"), runF, tokenRun)
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
		tw := cmdutil.NewTable(w)
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
func NewCmdListen(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, _ := newCmd(f, &cobra.Command{
		Use:   "listen ADDRESS",
		Short: "Make the host serve its API over HTTPS on ADDRESS (core.https_address)",
		Long: `Make the host serve its API over HTTPS on ADDRESS (HOST:PORT, or :PORT for
every address), as core.https_address. Asking for the address it already
listens on does nothing.`,
		Example: `  lxkit listen 127.0.0.1:8443
  lxkit --host /var/lib/incus/unix.socket listen 127.0.0.1:8444`,
	}, cmdutil.ExactArgs(1, "one address, HOST:PORT"), runF, listenRun)
	return cmd
}

func listenRun(ctx context.Context, opts *Options) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	return c.EnableHTTPSListener(ctx, opts.Args[0])
}

// NewCmdCert returns `lxkit cert`: this client's certificate.
func NewCmdCert(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert <command>",
		Short: "Generate or show this client's certificate",
		Args:  cmdutil.ExactArgs(0, "a subcommand: generate or show"),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdCertGenerate(f, nil), NewCmdCertShow(f, nil))
	return cmd
}

// NewCmdCertGenerate returns `lxkit cert generate`.
func NewCmdCertGenerate(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, opts := newCmd(f, &cobra.Command{Use: "generate [--force]", Short: "Generate lxkit's own client certificate (EC P-384; key mode 0600)"},
		cmdutil.ExactArgs(0, "no arguments"), runF, generateRun)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing certificate and key")
	return cmd
}

func generateRun(_ context.Context, opts *Options) error {
	dirs, err := certs.DefaultDirs()
	if err != nil {
		return err
	}
	own := dirs.OwnClientFiles()
	fp, err := certs.Generate(own.Cert, own.Key, certs.GenerateOptions{Overwrite: opts.Force})
	if err != nil {
		return err
	}
	return printCert(opts, own, fp)
}

// NewCmdCertShow returns `lxkit cert show`.
func NewCmdCertShow(f *cmdutil.Factory, runF runFunc) *cobra.Command {
	cmd, _ := newCmd(f, &cobra.Command{Use: "show", Short: "Show which client certificate lxkit presents, and its fingerprint"},
		cmdutil.ExactArgs(0, "no arguments"), runF, showRun)
	return cmd
}

func showRun(_ context.Context, opts *Options) error {
	files, err := certs.DefaultClientFiles()
	if err != nil {
		return err
	}
	cert, err := certs.ReadCertificate(files.Cert)
	if err != nil {
		return err
	}
	return printCert(opts, files, certs.Fingerprint(cert))
}

func printCert(opts *Options, files certs.ClientFiles, fp string) error {
	out := struct {
		Certificate string `json:"certificate"`
		Key         string `json:"key"`
		Source      string `json:"source"`
		Fingerprint string `json:"fingerprint"`
	}{files.Cert, files.Key, files.Source, fp}
	return cmdutil.Print(opts.IO, opts.Globals.Format, out, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "certificate: %s\nkey:         %s\nsource:      %s\nfingerprint: %s\n", files.Cert, files.Key, files.Source, fp)
		return err
	})
}
