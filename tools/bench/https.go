package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/transport"
)

// httpsAddr is where each daemon listens for HTTPS (as the tests use).
var httpsAddr = map[string]string{"lxd": "127.0.0.1:8443", "incus": "127.0.0.1:8444"}

// benchHTTPS compares exec over HTTPS: the library on one kept-alive client,
// `lxkit --host REMOTE exec`, and lxc (or incus) exec on a remote of the
// same daemon. Each side has a config directory of its own, made a remote
// with a trust token, so that nothing touches the user's configuration.
func benchHTTPS(ctx context.Context, unix *client.Client, ct, cli string) []row {
	addr := httpsAddr[unix.Kind()]
	check(unix.EnableHTTPSListener(ctx, addr))
	conf, err := os.MkdirTemp("", "lxkit-bench-https-")
	check(err)
	defer os.RemoveAll(conf)
	cliConf, lxkitConf := filepath.Join(conf, "cli"), filepath.Join(conf, "lxkit")
	cliEnv := append(os.Environ(), "LXD_CONF="+cliConf, "INCUS_CONF="+cliConf)
	lxkitEnv := append(os.Environ(), "LXKIT_CONF="+lxkitConf, "LXD_CONF="+cliConf+"-none", "INCUS_CONF="+cliConf+"-none")

	token := func() string {
		t, err := unix.CreateTrustToken(ctx, "lxkit-bench")
		check(err)
		return t
	}
	shell(cliEnv, cli+" remote add bench "+token())
	shell(lxkitEnv, *lxkitBin+" -q remote add bench --token "+token())
	defer untrustFile(unix, filepath.Join(cliConf, "client.crt"))
	defer untrustFile(unix, filepath.Join(lxkitConf, "client.crt"))

	cert, err := certs.LoadKeyPair(filepath.Join(lxkitConf, "client.crt"), filepath.Join(lxkitConf, "client.key"))
	check(err)
	pin, err := certs.ReadCertificate(filepath.Join(lxkitConf, "servercerts", "bench.crt"))
	check(err)
	hc, err := client.New(ctx, "https://"+addr, client.WithTLS(client.TLSOptions{ClientCert: &cert, ServerCert: pin}))
	check(err)
	tr := rest.New(hc).Transport(ct)

	// The least program making the library call, with the same files
	// and a TLS session of its own to resume.
	least := fmt.Sprintf("%s -cert %s -key %s -pin %s -session %s https://%s %s true", execFloor(),
		filepath.Join(lxkitConf, "client.crt"), filepath.Join(lxkitConf, "client.key"),
		filepath.Join(lxkitConf, "servercerts", "bench.crt"), filepath.Join(conf, "floor-session"), addr, ct)
	m := medians(*runs,
		func() { mustRun(tr.Exec(ctx, transport.Command{Args: []string{"true"}})) },
		func() { shell(cliEnv, cli+" exec bench:"+ct+" -- true") },
		func() { shell(lxkitEnv, *lxkitBin+" --host bench exec "+ct+" -- true") },
		func() { shell(lxkitEnv, least) })
	lib, base, cmd, floor := m[0], m[1], m[2], m[3]
	return []row{
		compare("exec `true` over HTTPS (library call, kept-alive client)", lib, base, "<= 0.5", lib <= base/2),
		compare("exec `true` over HTTPS (`lxkit --host REMOTE exec`)", cmd, base, "<= 1.0", cmd <= base),
		compare("exec `true` over HTTPS: the command against the library call", cmd, lib, "<= 1.15", float64(cmd) <= 1.15*float64(lib)),
		compare("exec `true` over HTTPS: the least program making the library call (execfloor, TLS session resumed) against the library call", floor, lib, "report", true),
		compare("exec `true` over HTTPS: the command against that least program", cmd, floor, "<= 1.15", float64(cmd) <= 1.15*float64(floor)),
	}
}

// untrustFile removes a certificate file's trust from the daemon.
func untrustFile(unix *client.Client, path string) {
	cert, err := certs.ReadCertificate(path)
	if err == nil {
		_ = unix.RemoveCertificate(context.Background(), client.Fingerprint(cert))
	}
}
