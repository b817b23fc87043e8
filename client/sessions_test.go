package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// TestSessionFileResumesAcrossClients: a client whose session cache is a
// file resumes the TLS session a client before it made (as the next lxkit
// process would), the file is 0600, and a client pinned to another
// certificate is still refused, whatever session the file holds.
func TestSessionFileResumesAcrossClients(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		ctx := testhost.Context(t, time.Minute)
		cert := trustedCert(t, s, "resume")
		path := filepath.Join(t.TempDir(), "sessions", "one")
		connectWith := func(pin *x509.Certificate, cache tls.ClientSessionCache) (resumed bool, err error) {
			var did atomic.Bool
			c, err := client.New(ctx, s.Addr, client.WithTLS(client.TLSOptions{
				ClientCert: &cert, ServerCert: pin, Sessions: cache,
				Handshake: func(cs tls.ConnectionState) { did.Store(cs.DidResume) },
			}))
			if err != nil {
				return false, err
			}
			defer c.Close()
			// A second request reads the ticket the daemon sent after the
			// handshake (TLS 1.3 sends it then).
			if _, err := c.Query(ctx, "GET", "/1.0/instances", nil, nil); err != nil {
				return false, err
			}
			if !c.Trusted() {
				return false, errors.New("not trusted")
			}
			return did.Load(), nil
		}
		// Each connect is a new process's client.
		connect := func(pin *x509.Certificate) (bool, error) { return connectWith(pin, client.SessionFile(path)) }
		if resumed, err := connect(s.ServerCert); err != nil || resumed {
			t.Fatalf("first client: resumed %v, %v", resumed, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("no session file after a handshake: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("session file mode %v, want 0600", fi.Mode().Perm())
		}
		if resumed, err := connect(s.ServerCert); err != nil || !resumed {
			t.Fatalf("second client: resumed %v, %v; want a resumed session", resumed, err)
		}
		// One process writes the file once: the tickets its later
		// connections bring stay in memory (and are resumed from there).
		cache := client.SessionFile(path)
		if _, err := connectWith(s.ServerCert, cache); err != nil {
			t.Fatal(err)
		}
		written, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if resumed, err := connectWith(s.ServerCert, cache); err != nil || !resumed {
			t.Fatalf("second client of one cache: resumed %v, %v", resumed, err)
		}
		if now, err := os.ReadFile(path); err != nil || string(now) != string(written) {
			t.Fatalf("the second client of one cache wrote the session file again (%v)", err)
		}
		// The same file, another pin (the other daemon's certificate,
		// or a daemon whose certificate changed): refused, resumed or not.
		other := testhost.ListenHTTPS(t, otherHost(h))
		if _, err := connect(other.ServerCert); !errors.Is(err, errdefs.ErrCertificate) || !strings.Contains(err.Error(), "not the one pinned") {
			t.Fatalf("changed pin with a saved session: got %v", err)
		}
		// A file that is not a session costs a full handshake, no more.
		if err := os.WriteFile(path, []byte("lxkit tls session 1\n\xff\xff"), 0o600); err != nil {
			t.Fatal(err)
		}
		if resumed, err := connect(s.ServerCert); err != nil || resumed {
			t.Fatalf("damaged file: resumed %v, %v", resumed, err)
		}
	})
}

// otherHost is the daemon that is not h.
func otherHost(h testhost.Host) testhost.Host {
	for _, x := range testhost.Hosts() {
		if x.Name != h.Name {
			return x
		}
	}
	return h
}

// TestLazyKeyOnlyForFullHandshakes: a client certificate loaded with
// certs.LoadKeyPairLazily (as the command loads it) has its key parsed
// only when a full handshake signs with it. Shown with a key file
// swapped for one that does not match the certificate: a resumed
// session still works, and a full handshake fails with the mismatch.
func TestLazyKeyOnlyForFullHandshakes(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		ctx := testhost.Context(t, time.Minute)
		_, certPath, keyPath := trustedFiles(t, s, "lazy")
		sessions := filepath.Join(t.TempDir(), "sessions")
		connect := func(sessionFile string) error {
			cert, err := certs.LoadKeyPairLazily(certPath, keyPath)
			if err != nil {
				return err
			}
			c, err := client.New(ctx, s.Addr, client.WithTLS(client.TLSOptions{
				ClientCert: &cert, ServerCert: s.ServerCert, Sessions: client.SessionFile(filepath.Join(sessions, sessionFile)),
			}))
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Query(ctx, "GET", "/1.0/instances", nil, nil); err != nil {
				return err
			}
			if !c.Trusted() {
				return errors.New("not trusted")
			}
			return nil
		}
		if err := connect("one"); err != nil {
			t.Fatalf("full handshake with the right key: %v", err)
		}
		_, _, otherKey := testhost.ClientCert(t)
		data, err := os.ReadFile(otherKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyPath, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := connect("one"); err != nil {
			t.Fatalf("resumed session, another key in the file: %v; want the key unused", err)
		}
		if err := connect("two"); err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
			t.Fatalf("full handshake with another key: %v; want the mismatch", err)
		}
	})
}
