package client_test

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/errdefs"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestClusterCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // a fetch hangs up after the handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	ctx := context.Background()
	fp := client.Fingerprint(srv.Certificate())

	// The first address that answers is asked.
	tok := api.ClusterJoinToken{ServerName: "m4", Secret: "s", Fingerprint: fp, Addresses: []string{closedAddr(t), addr}}
	got, err := client.ClusterCertificate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode([]byte(got))
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 || string(block.Bytes) != string(srv.Certificate().Raw) {
		t.Errorf("clusterCertificate returned %q; want the server's certificate, PEM", got)
	}

	// Another certificate is refused, even if a later address would do.
	tok.Fingerprint = strings.Repeat("0", 64)
	tok.Addresses = []string{addr, addr}
	got, err = client.ClusterCertificate(ctx, tok)
	if !errors.Is(err, errdefs.ErrCertificate) || got != "" ||
		!strings.Contains(err.Error(), addr+" presents certificate "+fp) || !strings.Contains(err.Error(), "refusing to join") {
		t.Errorf("clusterCertificate with another fingerprint: %q, %v; want ErrCertificate", got, err)
	}

	// No address answers.
	tok.Addresses = []string{closedAddr(t), closedAddr(t)}
	if got, err = client.ClusterCertificate(ctx, tok); err == nil || errors.Is(err, errdefs.ErrCertificate) ||
		!strings.Contains(err.Error(), "no address of the join token answered") {
		t.Errorf("clusterCertificate with nothing listening: %q, %v", got, err)
	}
	tok.Addresses = nil
	if _, err = client.ClusterCertificate(ctx, tok); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("clusterCertificate without addresses: %v", err)
	}
}
