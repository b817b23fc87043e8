package remote

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/internal/cmd/cmdutil"
	"github.com/lxkit/lxkit/internal/cmd/iostreams"
	"github.com/lxkit/lxkit/internal/remotes"
	"github.com/lxkit/lxkit/internal/testhost"
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
