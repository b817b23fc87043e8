package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// eachHTTPS runs f for each daemon, with its HTTPS listener on.
func eachHTTPS(t *testing.T, f func(t *testing.T, h testhost.Host, s *testhost.HTTPS)) {
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) { f(t, h, testhost.ListenHTTPS(t, h)) })
	}
}

// untrusted connects over HTTPS with a fresh certificate the daemon does
// not know, pinning the daemon's certificate.
func untrusted(t *testing.T, s *testhost.HTTPS) (*client.Client, *x509.Certificate) {
	t.Helper()
	cert, _, _ := testhost.ClientCert(t)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	c, err := client.New(testhost.Context(t, 30*time.Second), s.Addr,
		client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: s.ServerCert}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Trusted() {
		t.Fatal("a fresh certificate is trusted")
	}
	t.Cleanup(func() { _ = s.Unix.RemoveCertificate(context.Background(), client.Fingerprint(leaf)) })
	return c, leaf
}

// trustedCert returns a fresh client certificate that the daemon trusts
// until the test ends.
func trustedCert(t *testing.T, s *testhost.HTTPS, name string) tls.Certificate {
	t.Helper()
	cert, _, _ := trustedFiles(t, s, name)
	return cert
}

// trustedFiles is trustedCert, with the files of the certificate and key.
func trustedFiles(t *testing.T, s *testhost.HTTPS, name string) (cert tls.Certificate, certPath, keyPath string) {
	t.Helper()
	cert, certPath, keyPath = testhost.ClientCert(t)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if err := s.Unix.TrustCertificate(testhost.Context(t, time.Minute), testhost.Name(name), leaf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Unix.RemoveCertificate(context.Background(), client.Fingerprint(leaf)) })
	return cert, certPath, keyPath
}

func trusts(t *testing.T, s *testhost.HTTPS, leaf *x509.Certificate) bool {
	t.Helper()
	certs, err := s.Unix.Certificates(testhost.Context(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		if c.Fingerprint == client.Fingerprint(leaf) {
			return true
		}
	}
	return false
}

func TestUntrustedClientIsToldWhy(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		c, _ := untrusted(t, s)
		var list []api.Instance
		_, err := c.Query(testhost.Context(t, 30*time.Second), http.MethodGet, "/1.0/instances", nil, &list)
		if !errors.Is(err, errdefs.ErrUntrusted) || !strings.Contains(err.Error(), "does not trust") {
			t.Fatalf("got %v, want ErrUntrusted", err)
		}
	})
}

func TestTrustWithToken(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		ctx := testhost.Context(t, time.Minute)
		token, err := s.Unix.CreateTrustToken(ctx, testhost.Name("token"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := client.ParseTrustToken(token)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Fingerprint != client.Fingerprint(s.ServerCert) {
			t.Fatalf("token fingerprint %s, server certificate %s", tok.Fingerprint, client.Fingerprint(s.ServerCert))
		}

		// A wrong token (right shape, wrong secret) is refused, and the
		// error does not carry it.
		c, leaf := untrusted(t, s)
		bad := tok
		bad.Secret = strings.Repeat("0", len(tok.Secret))
		badToken := client.EncodeTrustToken(bad)
		err = c.RequestTrust(ctx, client.TrustRequest{Name: "lxkit-test", Token: badToken})
		if !errors.Is(err, errdefs.ErrForbidden) || strings.Contains(err.Error(), badToken) || strings.Contains(err.Error(), bad.Secret) {
			t.Fatalf("wrong token: got %v", err)
		}
		if c.Trusted() || trusts(t, s, leaf) {
			t.Fatal("trusted after a wrong token")
		}

		if err := c.RequestTrust(ctx, client.TrustRequest{Name: "lxkit-test", Token: token}); err != nil {
			t.Fatal(err)
		}
		if !c.Trusted() || !trusts(t, s, leaf) {
			t.Fatal("not trusted after the token")
		}
		if _, err := c.Query(ctx, http.MethodGet, "/1.0/instances", nil, nil); err != nil {
			t.Fatal(err)
		}

		// A token works once.
		c2, leaf2 := untrusted(t, s)
		if err := c2.RequestTrust(ctx, client.TrustRequest{Token: token}); !errors.Is(err, errdefs.ErrForbidden) || trusts(t, s, leaf2) {
			t.Fatalf("reused token: got %v", err)
		}
	})
}

func TestTrustWithPassword(t *testing.T) {
	testhost.Integration(t)
	h := testhost.Hosts()[0]
	if h.Name != "lxd" {
		t.Fatalf("the first test host is %s: trust passwords are LXD's", h.Name)
	}
	s := testhost.ListenHTTPS(t, h)
	ctx := testhost.Context(t, time.Minute)
	const password = "lxkit-test-Secr3t"
	setPassword := func(p string) {
		t.Helper()
		body := map[string]any{"config": map[string]any{"core.trust_password": p}}
		if _, err := s.Unix.Do(ctx, http.MethodPatch, "/1.0", body, ""); err != nil {
			t.Fatal(err)
		}
	}
	setPassword(password)
	t.Cleanup(func() { setPassword("") })

	c, leaf := untrusted(t, s)
	err := c.RequestTrust(ctx, client.TrustRequest{Password: "wrong-" + password})
	if !errors.Is(err, errdefs.ErrForbidden) || strings.Contains(err.Error(), password) {
		t.Fatalf("wrong password: got %v", err)
	}
	if trusts(t, s, leaf) {
		t.Fatal("trusted after a wrong password")
	}
	if err := c.RequestTrust(ctx, client.TrustRequest{Password: password}); err != nil {
		t.Fatal(err)
	}
	if !c.Trusted() || !trusts(t, s, leaf) {
		t.Fatal("not trusted after the password")
	}
}

func TestTrustCertificateOverUnixSocket(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		c := testhost.ConnectHTTPS(t, h)
		if c.Kind() != h.Name {
			t.Fatalf("kind %q over HTTPS, want %q", c.Kind(), h.Name)
		}
		// Removing the certificate by a prefix of its fingerprint ends the trust.
		fp := c.ClientFingerprint()
		if err := s.Unix.RemoveCertificate(testhost.Context(t, 30*time.Second), fp[:16]); err != nil {
			t.Fatal(err)
		}
		c2, err := client.New(testhost.Context(t, 30*time.Second), s.Addr, client.WithTLS(c.TLS()))
		if err != nil || c2.Trusted() {
			t.Fatalf("after removal: trusted=%v err=%v", err == nil && c2.Trusted(), err)
		}
	})
}

func TestServerCertificateIsVerified(t *testing.T) {
	hs := testhost.Hosts()
	s := testhost.ListenHTTPS(t, hs[0])
	other := testhost.ListenHTTPS(t, hs[1])
	ctx := testhost.Context(t, time.Minute)
	cert, _, _ := testhost.ClientCert(t)

	// Not pinned: the self-signed certificate fails the system's roots,
	// and the error shows its fingerprint.
	_, err := client.New(ctx, s.Addr, client.WithTLS(client.TLSOptions{ClientCert: &cert}))
	if !errors.Is(err, errdefs.ErrCertificate) || !strings.Contains(err.Error(), client.Fingerprint(s.ServerCert)) {
		t.Fatalf("unpinned: got %v", err)
	}
	// Pinned to another certificate (the other daemon's): refused.
	_, err = client.New(ctx, s.Addr, client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: other.ServerCert}))
	if !errors.Is(err, errdefs.ErrCertificate) || !strings.Contains(err.Error(), "not the one pinned") {
		t.Fatalf("changed certificate: got %v", err)
	}
	// Insecure connects.
	c, err := client.New(ctx, s.Addr, client.WithTLS(client.TLSOptions{ClientCert: &cert, Insecure: true}))
	if err != nil || c.Trusted() {
		t.Fatalf("insecure: %v", err)
	}
	// What ServerCertificate fetches is the daemon's certificate.
	got, verified, err := client.ServerCertificate(ctx, s.Addr)
	if err != nil || !got.Equal(s.ServerCert) || verified {
		t.Fatalf("ServerCertificate: verified %v, %v", verified, err)
	}
}

// TestHTTPSKeepsConnections counts connections and TLS handshakes: requests
// share kept-alive connections, and the websockets each exec opens resume
// a TLS session instead of a full handshake.
func TestHTTPSKeepsConnections(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		var dials, full, resumed atomic.Int64
		ctx := testhost.Context(t, 2*time.Minute)
		cert := trustedCert(t, s, "keepalive")
		c, err := client.New(ctx, s.Addr, client.WithDialHook(func() { dials.Add(1) }),
			client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: s.ServerCert, Handshake: func(cs tls.ConnectionState) {
				if cs.DidResume {
					resumed.Add(1)
				} else {
					full.Add(1)
				}
			}}))
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, err := c.Query(ctx, http.MethodGet, "/1.0/instances", nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := dials.Load(); n != 1 {
			t.Fatalf("GET /1.0 and 20 requests opened %d connections, want 1", n)
		}

		d := rest.New(c)
		name := testhost.Name("keepalive")
		if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Delete(context.Background(), name) })
		const execs = 10
		before := dials.Load()
		for range execs {
			var out strings.Builder
			res, err := d.Transport(name).Exec(ctx, transport.Command{Args: []string{"echo", "hi"}, Stdout: &out})
			if err != nil || res.ExitCode != 0 || out.String() != "hi\n" {
				t.Fatalf("exec: %v %v %q", res, err, out.String())
			}
		}
		t.Logf("%d execs: %d new connections; TLS handshakes in all: %d full, %d resumed", execs, dials.Load()-before, full.Load(), resumed.Load())
		if full.Load() > 2 {
			t.Fatalf("%d full TLS handshakes, want the first connection's only (resumed: %d)", full.Load(), resumed.Load())
		}
	})
}

func TestConnectFailuresAreDistinct(t *testing.T) {
	ctx := testhost.Context(t, time.Minute)
	// Refused: a loopback port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close()
	_, err = client.New(ctx, "https://"+free)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused: got %v", err)
	}
	// Timeout: a listener that accepts and never speaks TLS (a daemon
	// cannot be made to hang on demand).
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			conn, err := mute.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	_, err = client.New(ctx, mute.Addr().String(), client.WithConnectTimeout(300*time.Millisecond))
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("timeout: got %v", err)
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct{ in, socket, host, err string }{
		{in: "/var/lib/lxd/unix.socket", socket: "/var/lib/lxd/unix.socket"},
		{in: "unix:///run/x.socket", socket: "/run/x.socket"},
		{in: "https://example.org", host: "example.org:8443"},
		{in: "https://10.0.0.1:9443/", host: "10.0.0.1:9443"},
		{in: "https://[::1]", host: "[::1]:8443"},
		{in: "example.org:8444", host: "example.org:8444"},
		{in: "example.org", host: "example.org:8443"},
		{in: "ssh://root@host", err: "ssh:// goes through the CLI driver"},
		{in: "https://u:p@host", err: "expected https://HOST[:PORT]"},
		{in: "https://host/path", err: "expected https://HOST[:PORT]"},
		{in: "https://", err: `host "https://": expected https://HOST[:PORT]`}, // as typed
		{in: "https://:8443", err: `host "https://:8443": expected https://HOST[:PORT]`},
	} {
		ep, err := client.ParseAddr(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), ":p@") {
				t.Errorf("%s: got %v, want error with %q", tc.in, err, tc.err)
			}
		case err != nil || ep.Socket != tc.socket || ep.Host != tc.host:
			t.Errorf("%s: got %+v %v, want socket %q host %q", tc.in, ep, err, tc.socket, tc.host)
		}
	}
}

// freeAddr is a loopback address nothing listens on: a connection to it
// is refused.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFailover reaches a daemon through a fallback address when the
// address the client names refuses connections, as a cluster member that
// is down does; execs' websockets go the same way.
func TestFailover(t *testing.T) {
	eachHTTPS(t, func(t *testing.T, h testhost.Host, s *testhost.HTTPS) {
		ctx := testhost.Context(t, time.Minute)
		down := freeAddr(t)
		good := strings.TrimPrefix(s.Addr, "https://")
		c := testhost.ConnectTrusted(t, h.Name, &testhost.HTTPS{Addr: "https://" + down, ServerCert: s.ServerCert, Unix: s.Unix},
			client.WithFallbacks("https://"+down, freeAddr(t), s.Addr))
		if c.Connected() != good {
			t.Fatalf("connected to %q, want %q", c.Connected(), good)
		}
		if c.Server().Environment.ServerName == "" {
			t.Fatalf("no server read through the fallback: %+v", c.Server())
		}
		name := testhost.Name("failover")
		d := rest.New(c)
		t.Cleanup(func() { _ = d.Delete(testhost.Context(t, time.Minute), name) })
		if err := d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{Alias: testhost.Image}}); err != nil {
			t.Fatal(err)
		}
		if out, err := transport.Run(ctx, d.Transport(name), "echo", "through"); err != nil || out != "through\n" {
			t.Fatalf("exec through the fallback: %q, %v", out, err)
		}

		// None answers: the error says the others were tried.
		_, err := client.New(ctx, "https://"+down, client.WithFallbacks(freeAddr(t), freeAddr(t)))
		if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "nor did the 2 other addresses") {
			t.Fatalf("all down: %v", err)
		}
		// A fallback that is no HTTPS address is refused at once.
		if _, err := client.New(ctx, "https://"+down, client.WithFallbacks("/run/x.socket")); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "fallback /run/x.socket") {
			t.Fatalf("a socket as a fallback: %v", err)
		}
	})
}
