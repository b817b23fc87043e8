// Package remote is `lxkit remote`: named hosts, their pinned certificates
// and becoming trusted by them.
package remote

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/remotes"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// NewCmdRemote returns `lxkit remote` and its subcommands.
func NewCmdRemote(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remote <command>",
		Short: "Add, list, remove and choose remote hosts",
		Long: `Remote hosts are named LXD or Incus daemons reached over HTTPS (or a
socket). lxkit keeps its own in ~/.config/lxkit (or $LXKIT_CONF) and also reads,
never writes, the remotes of lxc (~/.config/lxc) and incus (~/.config/incus).
--host NAME uses a remote; "remote switch" sets the one used without --host.`,
		Args: cmdutil.ExactArgs(0, "a subcommand: add, list, remove, rename, set-url, switch or get-default"),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdAdd(f, nil), NewCmdList(f, nil), NewCmdRemove(f, nil), NewCmdRename(f, nil),
		NewCmdSetURL(f, nil), NewCmdSwitch(f, nil), NewCmdGetDefault(f, nil))
	return cmd
}

// AddOptions are the inputs of `lxkit remote add`.
type AddOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Remotes func() (*remotes.Store, error)
	// ClientOptions are added to the client that contacts the host.
	ClientOptions func() []client.Option

	Name, URL         string
	Token, Password   string
	AcceptCertificate bool
	Project           string
	// Protocol "simplestreams" adds an image server: no trust to ask.
	Protocol string
}

// NewCmdAdd returns `lxkit remote add`.
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{IO: f.IOStreams, Globals: f.Globals, Remotes: f.Remotes, ClientOptions: f.ClientOptions}
	cmd := &cobra.Command{
		Use:   "add NAME [URL] [--token T | --password P] [--accept-certificate]",
		Short: "Add a remote host and become trusted by it",
		Long: `Add a remote host reached at URL (https://HOST[:PORT], HOST[:PORT]; port 8443
by default) and make sure it trusts this client's certificate (lxkit's own,
else the one lxc or incus use; one is generated if there is none).

The host's certificate is checked first. A certificate signed by an authority
this machine trusts is accepted. Otherwise: with --token, it must be the one
the token names; without, its fingerprint is shown and, on a terminal, you are
asked to accept it. Without a terminal an unknown certificate is refused unless
--accept-certificate is given. An accepted certificate is pinned: a later
change is refused.

If the host does not trust this client yet: --token (from "lxc config trust
add", "incus config trust add" or "lxkit trust token") or --password (LXD's
core.trust_password) makes it; on a terminal you are asked for one. With a
token, URL may be left out: the token's first address is used.

--protocol simplestreams adds an image server instead (as lxkit image serve
runs): nothing to trust, its certificate checked and pinned as above; its
images are REMOTE:ALIAS to launch and image list.`,
		Example: `  lxkit remote add prod https://203.0.113.5:8443 --token "$TOKEN"
  lxkit remote add lab 192.0.2.7 --accept-certificate --password-stdin < pw.txt
  lxkit --host prod list
  lxkit remote add myimages https://10.0.0.9:8999 --protocol simplestreams --accept-certificate`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cmdutil.FlagErrorf("%s: expected NAME [URL]", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if len(args) == 2 {
				opts.URL = args[1]
			}
			if opts.Token != "" && opts.Password != "" {
				return cmdutil.FlagErrorf("give --token or --password, not both")
			}
			switch opts.Protocol {
			case "", "lxd", "incus":
			case host.ProtocolSimpleStreams:
				if opts.URL == "" || opts.Token != "" || opts.Password != "" {
					return cmdutil.FlagErrorf("--protocol simplestreams: give the server's URL, and no --token or --password (nothing to trust)")
				}
			default:
				return cmdutil.FlagErrorf("--protocol %q: use lxd, incus or simplestreams", opts.Protocol)
			}
			if opts.URL == "" && opts.Token == "" {
				return cmdutil.FlagErrorf("%s: expected a URL (or a --token that names one)", cmd.CommandPath())
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return addRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Token, "token", "", "trust token issued by the host")
	fl.StringVar(&opts.Password, "password", "", "the host's trust password (LXD 5.0)")
	var passwordStdin bool
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the trust password from stdin")
	fl.BoolVar(&opts.AcceptCertificate, "accept-certificate", false, "accept the host's certificate without asking")
	fl.StringVar(&opts.Project, "project", "", "project to use on the host")
	fl.StringVar(&opts.Protocol, "protocol", "", "simplestreams for an image server (default: a host, lxd or incus as it says)")
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if !passwordStdin {
			return nil
		}
		line, err := readLine(opts.IO.In)
		opts.Password = strings.TrimRight(line, "\r")
		return err
	}
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	if err := remotes.ValidateName(opts.Name); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	store, err := opts.Remotes()
	if err != nil {
		return err
	}
	if opts.Protocol == host.ProtocolSimpleStreams {
		return addImageServer(ctx, opts, store)
	}
	var token *tokenInfo
	if opts.Token != "" {
		tok, err := client.ParseTrustToken(opts.Token)
		if err != nil {
			return err
		}
		token = &tokenInfo{fingerprint: tok.Fingerprint}
		if opts.URL == "" {
			if len(tok.Addresses) == 0 {
				return cmdutil.FlagErrorf("the token names no address: give the URL")
			}
			opts.URL = tok.Addresses[0]
		}
	}
	ep, err := client.ParseAddr(opts.URL)
	if err != nil {
		return err
	}
	if ep.Socket != "" {
		// A socket needs no certificate or trust: just a name for it.
		return store.Add(remotes.Remote{Name: opts.Name, Addr: "unix://" + ep.Socket, Project: opts.Project}, nil)
	}
	addr := ep.String()

	pin, err := checkServer(ctx, opts, addr, token)
	if err != nil {
		return err
	}
	files, err := clientFiles(opts, store.Dirs())
	if err != nil {
		return err
	}
	cert, err := files.Load()
	if err != nil {
		return err
	}
	copts := append([]client.Option{client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: pin, Insecure: opts.Globals.Insecure})}, opts.ClientOptions()...)
	c, err := client.New(ctx, addr, copts...)
	if err != nil {
		return err
	}
	if !c.Trusted() {
		if opts.Token == "" && opts.Password == "" {
			if !opts.IO.IsStdinTTY() {
				return errdefs.Wrap(errdefs.ErrUntrusted, nil, "%s does not trust this client yet: pass --token or --password", addr)
			}
			secret, err := prompt(opts.IO, "Trust token or password for "+addr+": ")
			if err != nil {
				return err
			}
			if _, terr := client.ParseTrustToken(secret); terr == nil {
				opts.Token = secret
			} else {
				opts.Password = secret
			}
		}
		if err := c.RequestTrust(ctx, client.TrustRequest{Name: clientName(), Token: opts.Token, Password: opts.Password}); err != nil {
			return err
		}
	}
	if err := store.Add(remotes.Remote{Name: opts.Name, Addr: addr, Protocol: c.Kind(), Project: opts.Project}, pin); err != nil {
		return err
	}
	if !opts.Globals.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "Remote %s added: %s %s, trusting this client (certificate %s from %s)\n",
			opts.Name, c.Kind(), c.Server().Environment.ServerVersion, files.Cert, files.Source)
	}
	return nil
}

// addImageServer adds a simplestreams image server: its certificate
// checked and pinned as a host's, nothing to trust.
func addImageServer(ctx context.Context, opts *AddOptions, store *remotes.Store) error {
	u, err := url.Parse(strings.TrimSuffix(opts.URL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return cmdutil.FlagErrorf("--protocol simplestreams: URL %q: expected https://HOST[:PORT][/PATH]", opts.URL)
	}
	pin, err := checkServer(ctx, opts, u.Scheme+"://"+u.Host, nil)
	if err != nil {
		return err
	}
	r := remotes.Remote{Name: opts.Name, Addr: u.String(), Protocol: host.ProtocolSimpleStreams, Public: true}
	if err := store.Add(r, pin); err != nil {
		return err
	}
	if !opts.Globals.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "Remote %s added: simplestreams image server %s\n", opts.Name, r.Addr)
	}
	return nil
}

type tokenInfo struct{ fingerprint string }

// checkServer decides whether to trust the host's certificate and returns
// the one to pin (nil when the system's authorities vouch for it).
func checkServer(ctx context.Context, opts *AddOptions, addr string, token *tokenInfo) (*x509.Certificate, error) {
	if opts.Globals.Insecure {
		fmt.Fprintf(opts.IO.ErrOut, "Warning: --insecure: the certificate of %s is not checked or pinned\n", addr)
		return nil, nil
	}
	cert, verified, err := client.ServerCertificate(ctx, addr)
	if err != nil || verified {
		return nil, err
	}
	fp := certs.Fingerprint(cert)
	switch {
	case token != nil && token.fingerprint == fp:
		return cert, nil
	case token != nil:
		return nil, errdefs.Wrap(errdefs.ErrCertificate, nil,
			"%s presents certificate %s, but the token was issued by %s: refusing (is something in between?)", addr, fp, token.fingerprint)
	case opts.AcceptCertificate:
		return cert, nil
	case !opts.IO.IsStdinTTY():
		return nil, errdefs.Wrap(errdefs.ErrCertificate, nil,
			"%s presents a certificate no authority vouches for, fingerprint %s: check it and pass --accept-certificate (or use a --token)", addr, fp)
	}
	answer, err := prompt(opts.IO, fmt.Sprintf("Certificate fingerprint of %s: %s\nok (y/n)? ", addr, fp))
	if err != nil {
		return nil, err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return nil, errdefs.Wrap(errdefs.ErrCertificate, nil, "certificate of %s not accepted", addr)
	}
	return cert, nil
}

// clientFiles finds the client certificate to present, generating
// lxkit's own when the user has none.
func clientFiles(opts *AddOptions, dirs certs.Dirs) (certs.ClientFiles, error) {
	files, err := dirs.ClientFiles()
	if !errors.Is(err, errdefs.ErrNotFound) {
		return files, err
	}
	own := dirs.OwnClientFiles()
	fp, err := certs.Generate(own.Cert, own.Key, certs.GenerateOptions{})
	if err != nil {
		return certs.ClientFiles{}, err
	}
	if !opts.Globals.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "Generated a client certificate: %s (fingerprint %s)\n", own.Cert, fp)
	}
	return own, nil
}

// prompt asks on the terminal; what is typed is not echoed.
func prompt(ios *iostreams.IOStreams, question string) (string, error) {
	fmt.Fprint(ios.ErrOut, question)
	defer fmt.Fprintln(ios.ErrOut)
	if fd, ok := ios.In.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
		b, err := term.ReadPassword(int(fd.Fd()))
		return strings.TrimSpace(string(b)), err
	}
	line, err := readLine(ios.In)
	return strings.TrimSpace(line), err
}

// readLine reads up to a newline one byte at a time, so that nothing after
// it is consumed: the next prompt reads the next line.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
	}
}

// clientName is how the host will list this client's certificate.
func clientName() string {
	host, _ := os.Hostname()
	return "lxkit@" + host
}

// ListOptions are the inputs of `lxkit remote list`.
type ListOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Remotes func() (*remotes.Store, error)
}

// NewCmdList returns `lxkit remote list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Globals: f.Globals, Remotes: f.Remotes}
	return &cobra.Command{
		Use:   "list",
		Short: "List remotes: lxkit's own, then lxc's and incus's",
		Args:  cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(opts)
		},
	}
}

type record struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	Protocol string `json:"protocol,omitempty"`
	Source   string `json:"source"`
	Default  bool   `json:"default"`
	Pinned   bool   `json:"pinned_certificate"`
	Shadowed bool   `json:"shadowed,omitempty"`
}

func listRun(opts *ListOptions) error {
	store, err := opts.Remotes()
	if err != nil {
		return err
	}
	var recs []record
	for _, r := range store.List() {
		recs = append(recs, record{Name: r.Name, Addr: r.Addr, Protocol: r.Protocol, Source: r.Source,
			Default: r.Default, Pinned: r.ServerCertPath != "", Shadowed: r.Shadowed})
	}
	return cmdutil.Print(opts.IO, opts.Globals.Format, recs, func(w io.Writer) error {
		tw := cmdutil.NewTable(w)
		fmt.Fprintln(tw, "NAME\tURL\tPROTOCOL\tSOURCE\tDEFAULT")
		for _, r := range recs {
			name := r.Name
			if r.Shadowed {
				name += " (hidden)"
			}
			def := ""
			if r.Default {
				def = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, r.Addr, r.Protocol, r.Source, def)
		}
		return tw.Flush()
	})
}

// NameOptions are the inputs of `lxkit remote remove` and `switch`.
type NameOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Remotes func() (*remotes.Store, error)

	Name string
}

func newNameCmd(f *cmdutil.Factory, cmd *cobra.Command, runF, run func(context.Context, *NameOptions) error) *cobra.Command {
	opts := &NameOptions{IO: f.IOStreams, Globals: f.Globals, Remotes: f.Remotes}
	cmd.Args = cmdutil.ExactArgs(1, "one remote name")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Name = args[0]
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
	return cmd
}

// NewCmdRemove returns `lxkit remote remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove one of lxkit's remotes and its pinned certificate",
	}, runF, func(_ context.Context, opts *NameOptions) error {
		store, err := opts.Remotes()
		if err != nil {
			return err
		}
		return store.Remove(opts.Name)
	})
}

// NewCmdSwitch returns `lxkit remote switch`.
func NewCmdSwitch(f *cmdutil.Factory, runF func(context.Context, *NameOptions) error) *cobra.Command {
	return newNameCmd(f, &cobra.Command{
		Use:   "switch NAME",
		Short: "Make a remote the default host (used without --host)",
	}, runF, func(_ context.Context, opts *NameOptions) error {
		store, err := opts.Remotes()
		if err != nil {
			return err
		}
		return store.SetDefault(opts.Name)
	})
}

// RenameOptions are the inputs of `lxkit remote rename`.
type RenameOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Remotes func() (*remotes.Store, error)

	Name, NewName string
}

// NewCmdRename returns `lxkit remote rename`.
func NewCmdRename(f *cmdutil.Factory, runF func(context.Context, *RenameOptions) error) *cobra.Command {
	opts := &RenameOptions{IO: f.IOStreams, Globals: f.Globals, Remotes: f.Remotes}
	return &cobra.Command{
		Use:   "rename NAME NEW",
		Short: "Rename one of lxkit's remotes (its pinned certificate and the default follow)",
		Args:  cmdutil.ExactArgs(2, "NAME NEW"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.NewName = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return renameRun(opts)
		},
	}
}

func renameRun(opts *RenameOptions) error {
	if err := remotes.ValidateName(opts.NewName); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	store, err := opts.Remotes()
	if err != nil {
		return err
	}
	return store.Rename(opts.Name, opts.NewName)
}

// SetURLOptions are the inputs of `lxkit remote set-url`.
type SetURLOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Remotes func() (*remotes.Store, error)

	Name, URL string
}

// NewCmdSetURL returns `lxkit remote set-url`.
func NewCmdSetURL(f *cmdutil.Factory, runF func(context.Context, *SetURLOptions) error) *cobra.Command {
	opts := &SetURLOptions{IO: f.IOStreams, Globals: f.Globals, Remotes: f.Remotes}
	return &cobra.Command{
		Use:   "set-url NAME URL",
		Short: "Change the address of one of lxkit's remotes",
		Long: `Change the address of one of lxkit's remotes: https://HOST[:PORT] or HOST[:PORT]
(port 8443 by default), or a socket. A pinned certificate stays pinned: a
different server at the new address is refused (remove and add the remote
again to trust another).`,
		Example: `  lxkit remote set-url lab 192.0.2.8`,
		Args:    cmdutil.ExactArgs(2, "NAME URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.URL = args[0], args[1]
			if opts.URL == "" {
				return cmdutil.FlagErrorf("%s: expected a URL", cmd.CommandPath())
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return setURLRun(opts)
		},
	}
}

func setURLRun(opts *SetURLOptions) error {
	// As remote add reads its URL.
	ep, err := client.ParseAddr(opts.URL)
	if err != nil {
		return err
	}
	addr := ep.String()
	if ep.Socket != "" {
		addr = "unix://" + ep.Socket
	}
	store, err := opts.Remotes()
	if err != nil {
		return err
	}
	return store.SetAddr(opts.Name, addr)
}

// GetDefaultOptions are the inputs of `lxkit remote get-default`.
type GetDefaultOptions struct {
	IO      *iostreams.IOStreams
	Globals *cmdutil.Globals
	Remotes func() (*remotes.Store, error)
}

// NewCmdGetDefault returns `lxkit remote get-default`.
func NewCmdGetDefault(f *cmdutil.Factory, runF func(context.Context, *GetDefaultOptions) error) *cobra.Command {
	opts := &GetDefaultOptions{IO: f.IOStreams, Globals: f.Globals, Remotes: f.Remotes}
	return &cobra.Command{
		Use:   "get-default",
		Short: "Print the name of the default remote",
		Args:  cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return getDefaultRun(opts)
		},
	}
}

func getDefaultRun(opts *GetDefaultOptions) error {
	store, err := opts.Remotes()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(opts.IO.Out, store.Default())
	return err
}
