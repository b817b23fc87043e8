// Command execfloor is the least program that runs a command through
// lxkit's library: one client, one Exec, its exit code. make bench times
// it beside `lxkit exec`, to tell what any process pays (starting,
// connecting, running code for the first time) from what the lxkit
// command adds.
//
//	execfloor SOCKET INSTANCE COMMAND [ARG...]
//	execfloor -cert C -key K -pin P -session S https://ADDR INSTANCE COMMAND [ARG...]
//
// Over HTTPS it presents the client certificate C (key K, parsed only for
// a full handshake), accepts only the daemon certificate P and resumes
// the TLS session kept in the file S, as the lxkit command does.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/restapi"
)

func main() {
	certFile := flag.String("cert", "", "client certificate (HTTPS)")
	keyFile := flag.String("key", "", "client key (HTTPS)")
	pinFile := flag.String("pin", "", "the daemon's certificate (HTTPS)")
	session := flag.String("session", "", "file keeping the TLS session (HTTPS)")
	flag.Parse()
	if flag.NArg() < 3 {
		fmt.Fprintln(os.Stderr, "usage: execfloor [-cert C -key K -pin P -session S] ADDR INSTANCE COMMAND [ARG...]")
		os.Exit(2)
	}
	code, err := run(flag.Arg(0), flag.Arg(1), flag.Args()[2:], *certFile, *keyFile, *pinFile, *session)
	if err != nil {
		fmt.Fprintln(os.Stderr, "execfloor:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run makes the call and returns the command's exit code.
func run(addr, instance string, args []string, certFile, keyFile, pinFile, session string) (int, error) {
	ctx := context.Background()
	opts := []client.Option{client.WithLazyServer()}
	if certFile != "" {
		cert, err := certs.LoadKeyPairLazily(certFile, keyFile)
		if err != nil {
			return 0, err
		}
		pin, err := certs.ReadCertificate(pinFile)
		if err != nil {
			return 0, err
		}
		opts = append(opts, client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: pin, Sessions: client.SessionFile(session)}))
	}
	c, err := client.New(ctx, addr, opts...)
	if err != nil {
		return 0, err
	}
	res, err := restapi.New(c, instance).Exec(ctx, transport.Command{Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return 0, err
	}
	return res.ExitCode, nil
}
