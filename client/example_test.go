package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
)

// The local daemon, found at its usual socket, and one request.
func ExampleNew() {
	ctx := context.Background()
	c, err := client.New(ctx, "") // detect the local socket (LXD's or Incus's)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var names []string
	if _, err := c.Query(ctx, http.MethodGet, "/1.0/instances", nil, &names); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Kind(), names)
}

// A daemon over HTTPS: a client certificate, and the daemon's certificate
// pinned (verified against the system's authorities when ServerCert is
// nil). A client the daemon does not trust yet asks once, with a token.
func ExampleWithTLS() {
	ctx := context.Background()
	cert, err := tls.LoadX509KeyPair("client.crt", "client.key")
	if err != nil {
		log.Fatal(err)
	}
	var pinned *x509.Certificate // the daemon's, as `lxc remote add` showed it
	c, err := client.New(ctx, "https://192.0.2.10:8443", client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: pinned}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if !c.Trusted() {
		if err := c.RequestTrust(ctx, client.TrustRequest{Token: "TOKEN"}); err != nil {
			log.Fatal(err)
		}
	}
	var srv api.Server
	if _, err := c.Query(ctx, http.MethodGet, "/1.0", nil, &srv); err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.Environment.ServerVersion)
}
