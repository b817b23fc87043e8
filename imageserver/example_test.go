package imageserver_test

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/lxkit/lxkit/imageserver"
)

// writeImage writes a tiny unified image, as a plain tarball.
func writeImage(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	md := "architecture: x86_64\ncreation_date: 1714979280\nproperties:\n  os: busybox\n"
	tw.WriteHeader(&tar.Header{Name: "metadata.yaml", Mode: 0o644, Size: int64(len(md))})
	tw.Write([]byte(md))
	tw.WriteHeader(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755})
	return tw.Close()
}

func Example() {
	dir, _ := os.MkdirTemp("", "images")
	defer os.RemoveAll(dir)
	if err := writeImage(filepath.Join(dir, "busybox.tar")); err != nil {
		panic(err)
	}

	s, err := imageserver.New(context.Background(), dir, imageserver.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for _, img := range s.Images() {
		fmt.Println(img.Aliases, img.Architecture, img.Files, len(img.Fingerprint))
	}

	// Serve over HTTPS with a self-signed certificate: a daemon pulls with
	// the URL, the protocol "simplestreams" and certPEM.
	certPEM, keyPEM, err := imageserver.NewCertificate()
	if err != nil {
		panic(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.ServeTLS(ctx, l, cert) }()
	// ... the daemons pull from "https://" + l.Addr().String() ...
	stop()
	fmt.Println(<-done)
	// Output:
	// [busybox] x86_64 [busybox.tar] 64
	// <nil>
}
