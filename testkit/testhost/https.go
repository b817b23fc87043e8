package testhost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/internal/certs"
)

// HTTPSAddress is where each test daemon listens for HTTPS, on loopback.
var HTTPSAddress = map[string]string{"lxd": "127.0.0.1:8443", "incus": "127.0.0.1:8444"}

// HTTPS is what a test needs to reach a daemon over HTTPS.
type HTTPS struct {
	Addr       string            // https://127.0.0.1:PORT
	ServerCert *x509.Certificate // the daemon's certificate, to pin
	Unix       *client.Client    // the trusted unix-socket client of the same daemon
}

var listening sync.Map // host name -> *HTTPS

// ListenHTTPS turns on h's HTTPS listener on loopback (through the
// library, once per test binary) and returns how to reach it.
func ListenHTTPS(t testing.TB, h Host) *HTTPS {
	t.Helper()
	Integration(t)
	if v, ok := listening.Load(h.Name); ok {
		return v.(*HTTPS)
	}
	addr, ok := HTTPSAddress[h.Name]
	if !ok {
		t.Fatalf("no HTTPS address for test host %s", h.Name)
	}
	unix := Connect(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := unix.EnableHTTPSListener(ctx, addr); err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	cert, err := unix.ServerCert()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := listening.LoadOrStore(h.Name, &HTTPS{Addr: "https://" + addr, ServerCert: cert, Unix: unix})
	return v.(*HTTPS)
}

// ClientCert generates a fresh client certificate in a temporary
// directory and returns it with the paths of its files.
func ClientCert(t testing.TB) (cert tls.Certificate, certPath, keyPath string) {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if _, err := certs.Generate(certPath, keyPath, certs.GenerateOptions{}); err != nil {
		t.Fatal(err)
	}
	cert, err := certs.LoadKeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPath, keyPath
}

// ConnectHTTPS returns a client to h over HTTPS with a fresh client
// certificate that h trusts (added over the unix socket, removed when the
// test ends) and h's certificate pinned.
func ConnectHTTPS(t testing.TB, h Host, opts ...client.Option) *client.Client {
	t.Helper()
	return ConnectTrusted(t, h.Name, ListenHTTPS(t, h), opts...)
}

// ConnectTrusted returns a client over HTTPS to the daemon s describes,
// named name in messages, with a fresh client certificate that it
// trusts (added over s.Unix, removed when the test ends) and its
// certificate pinned.
func ConnectTrusted(t testing.TB, name string, s *HTTPS, opts ...client.Option) *client.Client {
	t.Helper()
	cert, _, _ := ClientCert(t)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Unix.TrustCertificate(ctx, Name("https"), leaf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Unix.RemoveCertificate(context.Background(), client.Fingerprint(leaf)) })
	opts = append([]client.Option{client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: s.ServerCert})}, opts...)
	c, err := client.New(ctx, s.Addr, opts...)
	if err != nil {
		t.Fatalf("%s over HTTPS: %v", name, err)
	}
	if !c.Trusted() {
		t.Fatalf("%s over HTTPS: the client is not trusted after adding its certificate", name)
	}
	return c
}
