package remote

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/cmd/lxkit/command/remotes"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/testkit/dirsnap"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestAddOnATerminal answers remote add's questions as a user at a
// terminal would: the certificate's fingerprint, then the trust token.
func TestAddOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the daemons")
	}
	h := testhost.Hosts()[0]
	s := testhost.ListenHTTPS(t, h)
	ctx := testhost.Context(t, time.Minute)
	dir := t.TempDir()
	store, err := remotes.OpenDir(filepath.Join(dir, "lxkit"), filepath.Join(dir, "lxc"), filepath.Join(dir, "incus"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cert, err := certs.ReadCertificate(filepath.Join(dir, "lxkit", "client.crt")); err == nil {
			_ = s.Unix.RemoveCertificate(context.Background(), client.Fingerprint(cert))
		}
	})
	add := func(name, input string) (string, error) {
		ios, in, _, errOut := iostreams.Test()
		ios.SetStdinTTY(true)
		in.WriteString(input)
		opts := &AddOptions{IO: ios, Globals: &cmdutil.Globals{}, Remotes: func() (*remotes.Store, error) { return store, nil },
			ClientOptions: func() []client.Option { return nil }, Name: name, URL: s.Addr}
		err := addRun(ctx, opts)
		return errOut.String(), err
	}

	// Saying no to the certificate: refused, nothing saved.
	out, err := add("t1", "n\n")
	if !errors.Is(err, errdefs.ErrCertificate) || !strings.Contains(out, client.Fingerprint(s.ServerCert)) {
		t.Fatalf("declined certificate: %v\n%s", err, out)
	}
	if _, err := store.Get("t1"); err == nil {
		t.Fatal("a declined remote was saved")
	}

	// Yes, then the token on the next line.
	token, err := s.Unix.CreateTrustToken(ctx, testhost.Name("tty"))
	if err != nil {
		t.Fatal(err)
	}
	out, err = add("t1", "y\n"+token+"\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "Trust token or password for") || strings.Contains(out, token) {
		t.Fatalf("prompts: %s", out)
	}
	r, err := store.Get("t1")
	if err != nil || r.ServerCertPath == "" {
		t.Fatalf("saved remote: %+v %v", r, err)
	}
}

// dirs are lxkit's, lxc's and incus's configuration directories.
type dirs struct{ own, lxc, incus string }

// setupDirs writes lxkit's, lxc's and incus's config.yml ("" for none),
// with a pinned certificate for lxkit's lab and lxc's prod, and gives
// lxc's and incus's files a past modification time.
func setupDirs(t *testing.T, own, lxc, incus string) dirs {
	t.Helper()
	root := t.TempDir()
	d := dirs{filepath.Join(root, "lxkit"), filepath.Join(root, "lxc"), filepath.Join(root, "incus")}
	crt, key := filepath.Join(root, "s.crt"), filepath.Join(root, "s.key")
	if _, err := certs.Generate(crt, key, certs.GenerateOptions{CommonName: "root@server"}); err != nil {
		t.Fatal(err)
	}
	cert, err := certs.ReadCertificate(crt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ dir, content, pinned string }{{d.own, own, "lab"}, {d.lxc, lxc, "prod"}, {d.incus, incus, ""}} {
		if f.content == "" {
			continue
		}
		if err := os.MkdirAll(f.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, remotes.ConfigFile), []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if f.pinned != "" {
			if err := certs.WriteCertificate(filepath.Join(f.dir, "servercerts", f.pinned+".crt"), cert); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := time.Now().Add(-time.Hour)
	for _, dir := range []string{d.lxc, d.incus} {
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error { return os.Chtimes(p, old, old) })
	}
	return d
}

// run runs `lxkit remote ARGS...` on d's configurations and returns its
// standard output.
func (d dirs) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.Globals{Format: cmdutil.FormatTable},
		Remotes: func() (*remotes.Store, error) { return remotes.OpenDir(d.own, d.lxc, d.incus) }}
	cmd := NewCmdRemote(f)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(ios.ErrOut)
	cmd.SetErr(ios.ErrOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

const (
	ownConfig = `default-remote: lab
remotes:
  lab:
    addr: https://192.0.2.7:8443
    protocol: incus
    public: false
  web:
    addr: https://192.0.2.9:8443
    public: false
`
	lxcConfig = `default-remote: prod
remotes:
  prod:
    addr: https://10.0.0.5:8443
    auth_type: tls
    protocol: lxd
    public: false
aliases: {}
`
	incusConfig = `default-remote: local
remotes:
  edge:
    addr: https://10.0.0.7:8443
    protocol: incus
    public: false
aliases: {}
`
)

func TestRenameSetURLGetDefault(t *testing.T) {
	d := setupDirs(t, ownConfig, lxcConfig, incusConfig)
	before := []dirsnap.Snapshot{dirsnap.Must(t, d.lxc), dirsnap.Must(t, d.incus)}
	pin := func(name string) string {
		data, _ := os.ReadFile(filepath.Join(d.own, "servercerts", name+".crt"))
		return string(data)
	}
	pinned := pin("lab")
	must := func(want string, args ...string) {
		t.Helper()
		out, err := d.run(t, args...)
		if err != nil || out != want {
			t.Fatalf("remote %s: %q, %v; want %q", strings.Join(args, " "), out, err, want)
		}
	}

	must("lab\n", "get-default")
	must("", "rename", "lab", "lab2")
	must("lab2\n", "get-default")
	if pin("lab2") != pinned || pin("lab") != "" {
		t.Errorf("the pin did not move: lab2.crt %d bytes, lab.crt %d bytes", len(pin("lab2")), len(pin("lab")))
	}
	// HOST alone is https on port 8443, as for remote add.
	must("", "set-url", "lab2", "192.0.2.8")
	must("", "set-url", "web", "https://[2001:db8::1]")
	data, err := os.ReadFile(filepath.Join(d.own, remotes.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	want := `default-remote: lab2
remotes:
  lab2:
    addr: https://192.0.2.8:8443
    protocol: incus
    public: false
  web:
    addr: https://[2001:db8::1]:8443
    public: false
`
	if string(data) != want {
		t.Errorf("lxkit's file:\n%s\nwant:\n%s", data, want)
	}
	if pin("lab2") != pinned {
		t.Error("set-url dropped the pin")
	}

	for _, tc := range []struct {
		args  []string
		class error
		usage bool
		want  string
	}{
		{[]string{"rename", "prod", "p2"}, errdefs.ErrInvalidArgument, false, "lxkit does not edit that file; rename it with `lxc remote rename prod p2`"},
		{[]string{"rename", "edge", "e2"}, errdefs.ErrInvalidArgument, false, "lxkit does not edit that file; rename it with `incus remote rename edge e2`"},
		{[]string{"rename", "local", "l2"}, errdefs.ErrInvalidArgument, false, "built in"},
		{[]string{"rename", "nope", "n2"}, errdefs.ErrNotFound, false, `remote "nope" not found`},
		{[]string{"rename", "lab2", "web"}, errdefs.ErrConflict, false, "remote web already exists"},
		{[]string{"rename", "lab2", "a/b"}, errdefs.ErrInvalidArgument, true, "invalid remote name"},
		{[]string{"rename", "lab2"}, nil, true, "expected NAME NEW"},
		{[]string{"set-url", "prod", "https://h:8443"}, errdefs.ErrInvalidArgument, false, "lxkit does not edit that file; change it with `lxc remote set-url prod https://h:8443`"},
		{[]string{"set-url", "edge", "https://h:8443"}, errdefs.ErrInvalidArgument, false, "`incus remote set-url edge https://h:8443`"},
		{[]string{"set-url", "local", "https://h:8443"}, errdefs.ErrInvalidArgument, false, "built in"},
		{[]string{"set-url", "nope", "https://h:8443"}, errdefs.ErrNotFound, false, `remote "nope" not found`},
		{[]string{"set-url", "lab2", "unix:///run/x.socket"}, errdefs.ErrInvalidArgument, false, "no server certificate to pin"},
		{[]string{"set-url", "lab2", "ftp://h"}, errdefs.ErrInvalidArgument, false, "unix:// or https://"},
		{[]string{"set-url", "lab2", ""}, nil, true, "expected a URL"},
		{[]string{"set-url", "lab2"}, nil, true, "expected NAME URL"},
		{[]string{"get-default", "x"}, nil, true, "no arguments"},
	} {
		out, err := d.run(t, tc.args...)
		switch {
		case err == nil:
			t.Errorf("remote %s: no error", strings.Join(tc.args, " "))
		case tc.class != nil && !errors.Is(err, tc.class), cmdutil.IsUsage(err) != tc.usage, !strings.Contains(err.Error(), tc.want):
			t.Errorf("remote %s: %v (usage %v); want %v with %q (usage %v)",
				strings.Join(tc.args, " "), err, cmdutil.IsUsage(err), tc.class, tc.want, tc.usage)
		case out != "":
			t.Errorf("remote %s printed %q", strings.Join(tc.args, " "), out)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(d.own, remotes.ConfigFile)); string(after) != want {
		t.Errorf("refused commands changed lxkit's file:\n%s", after)
	}

	for i, dir := range []string{d.lxc, d.incus} {
		for _, d := range dirsnap.Diff(before[i], dirsnap.Must(t, dir)) {
			t.Error(d)
		}
	}
}

func TestGetDefault(t *testing.T) {
	for _, tc := range []struct{ name, own, lxc, want string }{
		{"nothing: local", "", "", "local\n"},
		{"lxc's", "", lxcConfig, "prod\n"},
		{"lxkit's over lxc's", ownConfig, lxcConfig, "lab\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := setupDirs(t, tc.own, tc.lxc, "")
			if out, err := d.run(t, "get-default"); err != nil || out != tc.want {
				t.Errorf("get-default: %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}
