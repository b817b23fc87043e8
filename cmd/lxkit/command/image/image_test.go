package image

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command/cmdutil"
	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/imageserver"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// buffers are what a command printed.
type buffers struct{ out, errOut *bytes.Buffer }

func factory(d func(context.Context) (driver.Driver, error)) (*cmdutil.Factory, buffers) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.Globals{Format: cmdutil.FormatTable}, Driver: d},
		buffers{out: out, errOut: errOut}
}

// TestFlags parses each command's arguments into its options.
func TestFlags(t *testing.T) {
	f, _ := factory(nil)
	var exp *ExportOptions
	cmd := NewCmdExport(f, func(_ context.Context, o *ExportOptions) error { exp = o; return nil })
	cmd.SetArgs([]string{"web"})
	if err := cmd.Execute(); err != nil || exp.Ref != "web" || exp.Dir != "." {
		t.Errorf("export web: %+v, %v", exp, err)
	}
	cmd.SetArgs([]string{"web", "/srv"})
	if err := cmd.Execute(); err != nil || exp.Dir != "/srv" {
		t.Errorf("export web /srv: %+v, %v", exp, err)
	}

	var imp *ImportOptions
	cmd = NewCmdImport(f, func(_ context.Context, o *ImportOptions) error { imp = o; return nil })
	cmd.SetArgs([]string{"meta.tar.xz", "root.squashfs", "--alias", "a", "--alias", "b", "--public", "-p", "os=debian"})
	if err := cmd.Execute(); err != nil || !reflect.DeepEqual(imp.Files, []string{"meta.tar.xz", "root.squashfs"}) ||
		!reflect.DeepEqual(imp.Aliases, []string{"a", "b"}) || !imp.Public || imp.Properties["os"] != "debian" {
		t.Errorf("import: %+v, %v", imp, err)
	}

	var srv *ServeOptions
	cmd = NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { srv = o; return nil })
	cmd.SetArgs([]string{"dir", "--alias", "busybox=a7a3ac44f933", "--alias", "x=f.tar.xz"})
	if err := cmd.Execute(); err != nil || srv.Dir != "dir" || srv.Listen != DefaultListen ||
		!reflect.DeepEqual(srv.Aliases, map[string]string{"busybox": "a7a3ac44f933", "x": "f.tar.xz"}) {
		t.Errorf("serve: %+v, %v", srv, err)
	}

	for _, args := range [][]string{
		{"export"},
		{"export", "a", "b", "c"},
		{"import"},
		{"import", "a", "b", "c"},
		{"import", "a", "-p", "novalue"},
		{"serve"},
		{"serve", "d", "--cert", "c"},
		{"serve", "d", "--alias", "x"},
	} {
		cmd := NewCmdImage(f)
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); !cmdutil.IsUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestServe serves a directory, reads what serve printed, and fetches the
// index over HTTPS with the printed certificate (whose fingerprint is the
// printed one).
func TestServe(t *testing.T) {
	dir := t.TempDir()
	img := testhost.NewImageFiles(t, dir, "busybox", false)
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	certFile, keyFile := filepath.Join(keys, "srv.crt"), filepath.Join(keys, "srv.key")
	var first string
	for run := range 2 { // the first run makes the pair, the second reuses it
		f, bufs := factory(nil)
		f.Globals.Format = cmdutil.FormatJSON
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- serveRun(ctx, &ServeOptions{IO: f.IOStreams, Globals: f.Globals, Dir: dir, Listen: "127.0.0.1:0",
				CertFile: certFile, KeyFile: keyFile, Aliases: map[string]string{"bb": img.Fingerprint[:12]},
				Ready: func(url string) { ready <- url }})
		}()
		var url string
		select {
		case url = <-ready:
		case err := <-done:
			t.Fatalf("serve: %v\n%s", err, bufs.errOut.String())
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start")
		}
		var info serveInfo
		if err := json.Unmarshal(bufs.out.Bytes(), &info); err != nil {
			t.Fatalf("%v: %s", err, bufs.out.String())
		}
		block, _ := pem.Decode([]byte(info.Certificate))
		if block == nil || certs.FingerprintDER(block.Bytes) != info.Fingerprint || info.URL != url {
			t.Fatalf("printed %+v", info)
		}
		if run == 0 {
			first = info.Fingerprint
		} else if info.Fingerprint != first {
			t.Errorf("the second run made a new certificate")
		}
		if len(info.Images) != 1 || info.Images[0].Fingerprint != img.Fingerprint || !reflect.DeepEqual(info.Images[0].Aliases, []string{"bb", "busybox"}) {
			t.Errorf("images %+v", info.Images)
		}
		if !strings.Contains(bufs.errOut.String(), "Warning: readme.txt is not an image file") {
			t.Errorf("stderr: %s", bufs.errOut.String())
		}
		leaf, _ := x509.ParseCertificate(block.Bytes)
		roots := x509.NewCertPool()
		roots.AddCert(leaf)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: leaf.DNSNames[0]}}}
		resp, err := c.Get(url + imageserver.IndexPath)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), img.Fingerprint) {
			t.Errorf("index: %d %s", resp.StatusCode, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve after interrupt: %v", err)
		}
		if !strings.Contains(bufs.errOut.String(), "path=/streams/v1/index.json status=200") {
			t.Errorf("the request was not logged: %s", bufs.errOut.String())
		}
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}

	f, _ := factory(nil)
	err := serveRun(context.Background(), &ServeOptions{IO: f.IOStreams, Globals: f.Globals, Dir: t.TempDir(), Listen: "127.0.0.1:0"})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("an empty directory: %v", err)
	}
	os.Remove(certFile)
	err = serveRun(context.Background(), &ServeOptions{IO: f.IOStreams, Globals: f.Globals, Dir: dir, Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a key without its certificate: %v", err)
	}
}

// TestExportImport runs the two commands against the first test daemon.
func TestExportImport(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the daemons")
	}
	th := testhost.Hosts()[0]
	d := rest.New(testhost.Connect(t, th))
	f, bufs := factory(func(context.Context) (driver.Driver, error) { return d, nil })
	ctx := testhost.Context(t, 2*time.Minute)
	img := testhost.NewImageFiles(t, t.TempDir(), "cmd", true)
	alias := testhost.Name("cmd")
	t.Cleanup(func() { _ = host.New(d.API()).Images().Delete(context.Background(), img.Fingerprint) })

	cmd := NewCmdImport(f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(append(img.Files, "--alias", alias, "-p", "lxkit.cmd=yes"))
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(bufs.out.String()); got != img.Fingerprint {
		t.Fatalf("import printed %q, want %s", got, img.Fingerprint)
	}
	got, err := host.New(d.API()).Images().Get(ctx, alias)
	if err != nil || got.Properties["lxkit.cmd"] != "yes" {
		t.Fatalf("imported: %+v, %v", got, err)
	}

	f, bufs = factory(func(context.Context) (driver.Driver, error) { return d, nil })
	out := t.TempDir()
	cmd = NewCmdExport(f, nil)
	cmd.SetArgs([]string{alias, out})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	paths := strings.Fields(bufs.out.String())
	if len(paths) != 2 || filepath.Dir(paths[0]) != out || !strings.HasPrefix(filepath.Base(paths[0]), "meta-"+img.Fingerprint) {
		t.Fatalf("export printed %q", paths)
	}

	cmd = NewCmdExport(f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"lxkit-no-such-image", out})
	if err := cmd.ExecuteContext(ctx); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("export of a missing image: %v", err)
	}
	cmd = NewCmdImport(f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{filepath.Join(out, "missing.tar.gz")})
	if err := cmd.ExecuteContext(ctx); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("import of a missing file: %v", err)
	}
}
