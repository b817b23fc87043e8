package cmdutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lxkit/lxkit/cmd/lxkit/command/remotes"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
)

func TestResolveHost(t *testing.T) {
	dir := t.TempDir()
	lxcDir := filepath.Join(dir, "lxc")
	if err := os.MkdirAll(lxcDir, 0o700); err != nil {
		t.Fatal(err)
	}
	lxcConfig := `default-remote: local
remotes:
  images:
    addr: https://images.example.org
    protocol: simplestreams
    public: true
  lab:
    addr: https://192.0.2.7:8443
    protocol: lxd
`
	if err := os.WriteFile(filepath.Join(lxcDir, "config.yml"), []byte(lxcConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := remotes.OpenDir(filepath.Join(dir, "lxkit"), lxcDir, filepath.Join(dir, "incus"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(remotes.Remote{Name: "prod", Addr: "https://198.51.100.1:9443"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, addr, remote string
		err                error
	}{
		{host: "", addr: ""},
		{host: "local", addr: "*", remote: "local"}, // lxc's local: LXD's socket
		{host: "/run/x.socket", addr: "/run/x.socket"},
		{host: "unix:///run/y.socket", addr: "/run/y.socket"},
		{host: "https://example.org", addr: "https://example.org:8443"},
		{host: "example.org:9000", addr: "https://example.org:9000"},
		{host: "ssh://root@example.org", addr: "ssh://root@example.org"},
		{host: "prod", addr: "https://198.51.100.1:9443", remote: "prod"},
		{host: "lab", addr: "https://192.0.2.7:8443", remote: "lab"},
		// An address that is a remote's takes that remote's certificates.
		{host: "198.51.100.1:9443", addr: "https://198.51.100.1:9443", remote: "prod"},
		{host: "nosuch", err: errdefs.ErrNotFound},
		{host: "images", err: errdefs.ErrInvalidArgument},
		{host: "ftp://x", err: errdefs.ErrInvalidArgument},
	} {
		h, err := ResolveHost(store, tc.host)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: got %v, want %v", tc.host, err, tc.err)
			}
			continue
		}
		got := ""
		if h.Remote != nil {
			got = h.Remote.Name
		}
		if err != nil || h.Addr != tc.addr && tc.addr != "*" || got != tc.remote {
			t.Errorf("%q: got %q remote %q (%v), want %q remote %q", tc.host, h.Addr, got, err, tc.addr, tc.remote)
		}
	}
}

// TestTLSOptionsKeepThePin: a remote's pinned certificate is used even
// when there is no client certificate yet.
func TestTLSOptionsKeepThePin(t *testing.T) {
	dir := t.TempDir()
	dirs := certs.Dirs{LXKit: filepath.Join(dir, "lxkit"), LXC: filepath.Join(dir, "lxc"), Incus: filepath.Join(dir, "incus")}
	store, err := remotes.OpenDir(dirs.LXKit, dirs.LXC, dirs.Incus)
	if err != nil {
		t.Fatal(err)
	}
	// Any certificate will do as the server's.
	crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if _, err := certs.Generate(crt, key, certs.GenerateOptions{}); err != nil {
		t.Fatal(err)
	}
	pin, err := certs.ReadCertificate(crt)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(remotes.Remote{Name: "lab", Addr: "https://192.0.2.7:8443"}, pin); err != nil {
		t.Fatal(err)
	}
	h, err := ResolveHost(store, "lab")
	if err != nil {
		t.Fatal(err)
	}
	o, err := TLSOptions(h, store.Dirs(), false)
	if err != nil || o.ClientCert != nil || o.ServerCert == nil || !o.ServerCert.Equal(pin) {
		t.Fatalf("got client cert %v, pin %v, %v; want no client cert and the pin", o.ClientCert != nil, o.ServerCert != nil, err)
	}
}

// A socket named by its path is reached without reading any remotes: a
// broken configuration file cannot stand in the way, and a command pays
// for no file it does not use.
func TestSocketHostReadsNoRemotes(t *testing.T) {
	for _, host := range []string{"/var/lib/lxd/unix.socket", "unix:///run/incus/unix.socket", "./unix.socket"} {
		f := NewFactory(nil)
		f.Globals.Host = host
		f.Remotes = func() (*remotes.Store, error) {
			t.Errorf("--host %s: the remotes were read", host)
			return nil, errors.New("no remotes here")
		}
		h, store, err := f.host()
		if err != nil || store != nil || h.Addr == "" || h.Remote != nil {
			t.Errorf("--host %s: %+v, store %v, %v; want the socket alone", host, h, store, err)
		}
	}
	// A remote's name does read them.
	f := NewFactory(nil)
	f.Globals.Host = "prod"
	read := false
	f.Remotes = func() (*remotes.Store, error) { read = true; return nil, errors.New("broken config.yml") }
	if _, _, err := f.host(); err == nil || !read {
		t.Errorf("--host prod: %v, remotes read %v; want the store's error", err, read)
	}
}
