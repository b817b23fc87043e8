package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/nested"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/imageserver"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
	"github.com/lxkit/lxkit/transport/local"
)

// serverImages are the images of TestCopyFromServer's server for one
// daemon and driver: each is new, so that pulling it really downloads it
// and no other subtest deletes it underneath.
type serverImages struct {
	unified, split, launch testhost.ImageFiles
}

// TestCopyFromServer serves images with package imageserver on loopback
// and makes each daemon, through each driver, pull them: the busybox test
// image as exported from a daemon (which the daemons have: the pull finds
// it), a new unified image and a new split image (which they download),
// by the server's aliases; then launches a container straight from the
// server. A wrong certificate and an alias the server lacks are classified
// errors.
func TestCopyFromServer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	ctx := testhost.Context(t, 5*time.Minute)
	dir := t.TempDir()

	// The test image as a daemon exports it, named by its fingerprint.
	lxd := host.New(testhost.Connect(t, testhost.Hosts()[0]))
	exported, err := lxd.Images().Export(ctx, testhost.Image, dir, host.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	busybox, err := lxd.Images().Resolve(ctx, testhost.Image)
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) != 1 || filepath.Base(exported[0]) != busybox+".tar.xz" {
		t.Fatalf("exported the test image as %v", exported)
	}

	images := map[string]serverImages{}
	for _, th := range testhost.Hosts() {
		for _, kind := range []string{"rest", "cli"} {
			key := th.Name + "-" + kind
			images[key] = serverImages{
				unified: testhost.NewImageFiles(t, dir, key+"-u", false),
				split:   testhost.NewImageFiles(t, dir, key+"-s", true),
				launch:  testhost.NewImageFiles(t, dir, key+"-l", false),
			}
		}
	}
	srv := testhost.ServeImages(t, dir, imageserver.Options{Aliases: map[string]string{"busybox": busybox[:12]}})
	if p := srv.Problems(); len(p) > 0 {
		t.Fatalf("the server left files out: %v", p)
	}
	// Another server, whose certificate no daemon is given: its URL is
	// never fetched with a good certificate, so no daemon has its index
	// in cache.
	other := testhost.ServeImages(t, dir, imageserver.Options{})
	src := host.ImageServer{URL: srv.URL, Protocol: host.ProtocolSimpleStreams, Certificate: srv.Certificate}
	wrong := host.ImageServer{URL: other.URL, Certificate: srv.Certificate}

	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 4*time.Minute)
		imgs := images[subtestKey(t)]
		for _, f := range []string{imgs.unified.Fingerprint, imgs.split.Fingerprint, imgs.launch.Fingerprint} {
			t.Cleanup(func() { _ = h.Images().Delete(context.Background(), f) })
		}
		images := h.Images()

		// The test image: the daemon has it already.
		got, err := images.CopyFromServer(ctx, src, "busybox", host.CopyOptions{})
		if err != nil || got != busybox {
			t.Fatalf("CopyFromServer(busybox) = %q, %v; want the test image's %s", got, err, busybox)
		}

		for _, c := range []struct {
			what string
			img  testhost.ImageFiles
		}{{"unified", imgs.unified}, {"split", imgs.split}} {
			serverAlias := strings.TrimSuffix(filepath.Base(c.img.Files[len(c.img.Files)-1]), ".tar.gz")
			local := testhost.Name("pulled")
			t.Cleanup(func() { _ = images.DeleteAlias(context.Background(), local) })
			var reports []host.Progress
			for range 2 { // the second pull finds it there
				got, err := images.CopyFromServer(ctx, src, serverAlias, host.CopyOptions{
					Aliases: []string{local}, Progress: func(p host.Progress) { reports = append(reports, p) }})
				if err != nil || got != c.img.Fingerprint {
					t.Fatalf("%s: CopyFromServer(%s) = %q, %v; want %s", c.what, serverAlias, got, err, c.img.Fingerprint)
				}
			}
			if len(reports) == 0 || !reports[len(reports)-1].Done {
				t.Errorf("%s: progress %+v, want a last report with Done", c.what, reports)
			}
			img, err := images.Get(ctx, local)
			if err != nil || img.Fingerprint != c.img.Fingerprint || img.Architecture != "x86_64" {
				t.Fatalf("%s: the pulled image: %+v, %v", c.what, img, err)
			}
			// Only the alias asked for: not the server's, not lxkit's
			// scratch one (Incus would add the server's by itself).
			var names []string
			for _, a := range img.Aliases {
				names = append(names, a.Name)
			}
			if len(names) != 1 || names[0] != local {
				t.Errorf("%s: the pulled image's aliases are %v, want [%s]", c.what, names, local)
			}
		}

		// A container straight from the server: the daemon downloads a
		// new image for it.
		name := testhost.Name("srv")
		t.Cleanup(func() { _ = d.Delete(context.Background(), name) })
		launchAlias := strings.TrimSuffix(filepath.Base(imgs.launch.Files[0]), ".tar.gz")
		err = d.Create(ctx, name, driver.CreateOptions{Image: driver.Image{
			Server: src.URL, Protocol: "simplestreams", Alias: launchAlias, Certificate: src.Certificate}})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := readAll(ctx, d.Transport(name), "/etc/hostname"); err != nil || strings.TrimSpace(got) != name {
			t.Fatalf("/etc/hostname of %s: %q, %v", name, got, err)
		}
		if err := d.Delete(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := images.Get(ctx, imgs.launch.Fingerprint); err != nil {
			t.Errorf("the image the container came from: %v", err)
		}

		// What goes wrong, and how it says so.
		_, err = images.CopyFromServer(ctx, wrong, "busybox", host.CopyOptions{})
		mustClass(t, "wrong certificate", err, errdefs.ErrCertificate, "certificate", other.URL)
		t.Logf("wrong certificate: %v", err)
		err = d.Create(ctx, testhost.Name("bad"), driver.CreateOptions{Image: driver.Image{
			Server: wrong.URL, Protocol: "simplestreams", Alias: "busybox", Certificate: wrong.Certificate}})
		mustClass(t, "create with a wrong certificate", err, errdefs.ErrCertificate, "certificate")
		_, err = images.CopyFromServer(ctx, src, "no-such-alias", host.CopyOptions{})
		mustClass(t, "unknown alias", err, errdefs.ErrNotFound, "image no-such-alias not found on "+src.URL)
		t.Logf("unknown alias: %v", err)
		err = d.Create(ctx, testhost.Name("bad"), driver.CreateOptions{Image: driver.Image{
			Server: src.URL, Protocol: "simplestreams", Alias: "no-such-alias", Certificate: src.Certificate}})
		mustClass(t, "create from an unknown alias", err, errdefs.ErrNotFound, "image no-such-alias not found")
		_, err = images.CopyFromServer(ctx, host.ImageServer{URL: "ftp://example"}, "busybox", host.CopyOptions{})
		mustClass(t, "bad URL", err, errdefs.ErrInvalidArgument)
		_, err = images.CopyFromServer(ctx, host.ImageServer{URL: src.URL, Certificate: "not PEM"}, "busybox", host.CopyOptions{})
		mustClass(t, "certificate not PEM", err, errdefs.ErrInvalidArgument)

		list, err := images.Aliases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Only this subtest's: the other driver's copies of the test
		// image, on the same daemon, may be under way.
		for _, a := range list {
			if strings.HasPrefix(a.Name, "lxkit-pull-") && (a.Target == imgs.unified.Fingerprint || a.Target == imgs.split.Fingerprint) {
				t.Errorf("a scratch alias is left: %+v", a)
			}
		}
	})
}

func sha256File(p string) (string, error) {
	data, err := os.ReadFile(p)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), err
}

// subtestKey is "DAEMON-DRIVER" for a subtest of eachDriver.
func subtestKey(t *testing.T) string {
	parts := strings.Split(t.Name(), "/")
	return parts[1] + "-" + parts[2]
}

// openDriver returns a driver of kind ("rest" or "cli") for th.
func openDriver(t *testing.T, kind string, th testhost.Host) driver.Driver {
	t.Helper()
	if kind == "rest" {
		return rest.New(testhost.Connect(t, th))
	}
	ctx := testhost.Context(t, 30*time.Second)
	d, err := cli.New(ctx, local.New(), cli.ForSocket(th.Socket))
	if err != nil {
		testhost.Unavailable(t, "%s through its command: %v", th.Name, err)
	}
	return d
}

// TestCopyFromLXDServer makes Incus pull a public image from LXD's HTTPS
// API (the "lxd" protocol), given LXD's certificate, through each driver.
func TestCopyFromLXDServer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	hosts := testhost.Hosts()
	if len(hosts) != 2 {
		t.Fatalf("need two test daemons, have %d", len(hosts))
	}
	ctx := testhost.Context(t, 3*time.Minute)
	https := testhost.ListenHTTPS(t, hosts[0])
	lxd := host.New(https.Unix)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: https.ServerCert.Raw}))
	dir := t.TempDir()
	for _, kind := range []string{"rest", "cli"} {
		t.Run(kind, func(t *testing.T) {
			img := testhost.NewImageFiles(t, dir, "pub-"+kind, false)
			alias := testhost.Name("pub")
			fp, err := lxd.Images().Import(ctx, img.Files, host.ImportOptions{Aliases: []string{alias}, Public: true})
			if err != nil || fp != img.Fingerprint {
				t.Fatalf("Import: %q, %v", fp, err)
			}
			t.Cleanup(func() { _ = lxd.Images().Delete(context.Background(), fp) })
			d := openDriver(t, kind, hosts[1])
			incus := host.New(d.API())
			t.Cleanup(func() { _ = incus.Images().Delete(context.Background(), fp) })
			src := host.ImageServer{URL: https.Addr, Protocol: host.ProtocolLXD, Certificate: certPEM}
			got, err := incus.Images().CopyFromServer(ctx, src, alias, host.CopyOptions{Aliases: []string{alias}})
			if err != nil || got != fp {
				t.Fatalf("CopyFromServer(%s): %q, %v", alias, got, err)
			}
			if img, err := incus.Images().Get(ctx, alias); err != nil || img.Fingerprint != fp {
				t.Fatalf("the copy: %+v, %v", img, err)
			}
			_, err = incus.Images().CopyFromServer(ctx, src, "lxkit-no-such-alias", host.CopyOptions{})
			mustClass(t, "unknown alias", err, errdefs.ErrNotFound)
		})
	}
}

// TestExportImport imports new images (unified and split) from their
// files, exports them back, and imports the exported files again, on
// each daemon through each driver.
func TestExportImport(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 3*time.Minute)
		images := h.Images()
		src := t.TempDir()
		for _, split := range []bool{false, true} {
			img := testhost.NewImageFiles(t, src, fmt.Sprintf("img-%v", split), split)
			t.Cleanup(func() { _ = images.Delete(context.Background(), img.Fingerprint) })
			alias := testhost.Name("imp")
			var reports []host.Progress
			for range 2 { // the second import finds it there
				fp, err := images.Import(ctx, img.Files, host.ImportOptions{
					Aliases: []string{alias}, Properties: map[string]string{"lxkit.extra": "yes"},
					Progress: func(p host.Progress) { reports = append(reports, p) }})
				if err != nil || fp != img.Fingerprint {
					t.Fatalf("split=%v: Import = %q, %v; want %s", split, fp, err, img.Fingerprint)
				}
			}
			if len(reports) == 0 {
				t.Fatalf("split=%v: no progress", split)
			}
			if last := reports[len(reports)-1]; !last.Done || last.Bytes != last.Total || last.Total == 0 {
				t.Errorf("split=%v: last progress %+v, want Done with every byte", split, last)
			}
			got, err := images.Get(ctx, alias)
			if err != nil || got.Fingerprint != img.Fingerprint || got.Properties["lxkit.test"] != img.Unique || got.Properties["lxkit.extra"] != "yes" {
				t.Fatalf("split=%v: imported image %+v, %v", split, got, err)
			}

			out := t.TempDir()
			reports = nil
			files, err := images.Export(ctx, alias, out, host.ExportOptions{Progress: func(p host.Progress) { reports = append(reports, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(img.Files) {
				t.Fatalf("split=%v: exported %v", split, files)
			}
			for i, f := range files {
				want, _ := os.ReadFile(img.Files[i])
				have, err := os.ReadFile(f)
				if err != nil || string(have) != string(want) {
					t.Errorf("split=%v: exported %s is not %s", split, f, img.Files[i])
				}
			}
			if split && !strings.HasPrefix(filepath.Base(files[0]), "meta-"+img.Fingerprint) {
				t.Errorf("exported split image as %v", files)
			}
			if last := reports[len(reports)-1]; !last.Done || last.Bytes != last.Total {
				t.Errorf("split=%v: last export progress %+v", split, last)
			}
			if entries, _ := os.ReadDir(out); len(entries) != len(files) {
				t.Errorf("split=%v: the export left %d entries in its directory, want %d", split, len(entries), len(files))
			}

			if err := images.Delete(ctx, img.Fingerprint); err != nil {
				t.Fatal(err)
			}
			fp, err := images.Import(ctx, files, host.ImportOptions{})
			if err != nil || fp != img.Fingerprint {
				t.Fatalf("split=%v: importing the exported files: %q, %v", split, fp, err)
			}
			if err := images.Delete(ctx, fp); err != nil {
				t.Fatal(err)
			}
		}

		// What is not an image, refused before anything is sent.
		junk := filepath.Join(src, "junk.tar.gz")
		if err := os.WriteFile(junk, []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := images.Import(ctx, []string{junk}, host.ImportOptions{})
		mustClass(t, "junk", err, errdefs.ErrInvalidArgument, "junk.tar.gz is not an image file")
		img := testhost.NewImageFiles(t, src, "halves", true)
		_, err = images.Import(ctx, img.Files[:1], host.ImportOptions{})
		mustClass(t, "metadata alone", err, errdefs.ErrInvalidArgument, "give its rootfs")
		_, err = images.Import(ctx, []string{img.Files[0], junk}, host.ImportOptions{})
		mustClass(t, "junk rootfs", err, errdefs.ErrInvalidArgument, "not an image's rootfs")
		_, err = images.Import(ctx, []string{filepath.Join(src, "missing.tar.gz")}, host.ImportOptions{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a missing file: %v", err)
		}
		// And what the daemon itself refuses, past lxkit's checks.
		type filer interface {
			ImportImage(ctx context.Context, files []string, fp string, progress func(int64)) error
		}
		junkFP, _ := sha256File(junk)
		err = d.API().(filer).ImportImage(ctx, []string{junk}, junkFP, nil)
		if err == nil {
			t.Fatal("the daemon took junk for an image")
		}
		t.Logf("the daemon refuses junk: %v", err)

		_, err = images.Export(ctx, "lxkit-no-such-image", t.TempDir(), host.ExportOptions{})
		mustClass(t, "export of a missing image", err, errdefs.ErrNotFound, "image lxkit-no-such-image not found")
		_, err = images.Export(ctx, testhost.Image, junk, host.ExportOptions{})
		mustClass(t, "export into a file", err, errdefs.ErrInvalidArgument, "not a directory")
	})
}

// TestImageFilesNested imports and exports an image on the LXD inside a
// container, through the CLI driver one level down: the files go through
// the container's transport into a temporary directory there, which is
// gone afterwards. The nested daemon then pulls an image from a server on
// this machine, over the container's bridge.
func TestImageFilesNested(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	top := rest.New(testhost.Connect(t, testhost.Hosts()[0]))
	outer := testhost.LaunchNested(t, top, "imgn", testhost.NestImage)
	ctx := testhost.Context(t, 5*time.Minute)
	nd, err := nested.New(top).Host(ctx, outer)
	if err != nil {
		t.Fatal(err)
	}
	h := host.New(nd.API())
	tmpBefore, err := readDir(ctx, top, outer, "/tmp")
	if err != nil {
		t.Fatal(err)
	}

	img := testhost.NewImageFiles(t, t.TempDir(), "nested", true)
	fp, err := h.Images().Import(ctx, img.Files, host.ImportOptions{Aliases: []string{"nested"}})
	if err != nil || fp != img.Fingerprint {
		t.Fatalf("Import one level down: %q, %v", fp, err)
	}
	out := t.TempDir()
	files, err := h.Images().Export(ctx, "nested", out, host.ExportOptions{})
	if err != nil || len(files) != 2 {
		t.Fatalf("Export one level down: %v, %v", files, err)
	}
	if got, _ := sha256File(files[1]); got == "" {
		t.Fatal("no rootfs exported")
	}
	tmpAfter, err := readDir(ctx, top, outer, "/tmp")
	if err != nil {
		t.Fatal(err)
	}
	if tmpAfter != tmpBefore {
		t.Errorf("/tmp in %s was %q, is %q after import and export", outer, tmpBefore, tmpAfter)
	}
	_, err = h.Images().Export(ctx, "lxkit-no-such-image", out, host.ExportOptions{})
	mustClass(t, "export of a missing image one level down", err, errdefs.ErrNotFound)

	// A server on the bridge's address: its certificate names this
	// machine, and the daemon checks it against that name.
	bridge := bridgeAddress(t, "lxdbr0")
	dir := t.TempDir()
	pulled := testhost.NewImageFiles(t, dir, "bridged", false)
	srv := testhost.ServeImagesOn(t, net.JoinHostPort(bridge, "0"), dir, imageserver.Options{})
	src := host.ImageServer{URL: srv.URL, Certificate: srv.Certificate}
	fp, err = h.Images().CopyFromServer(ctx, src, "bridged", host.CopyOptions{Aliases: []string{"bridged"}})
	if err != nil || fp != pulled.Fingerprint {
		t.Fatalf("CopyFromServer one level down: %q, %v", fp, err)
	}
}

// bridgeAddress is the IPv4 address of this machine on a bridge.
func bridgeAddress(t *testing.T, name string) string {
	t.Helper()
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		testhost.Unavailable(t, "bridge %s: %v", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	testhost.Unavailable(t, "bridge %s has no IPv4 address", name)
	return ""
}

// readDir lists a directory in a container.
func readDir(ctx context.Context, d driver.Driver, name, dir string) (string, error) {
	res, err := d.Transport(name).Exec(ctx, transport.Command{Args: []string{"ls", "-1A", dir}, Capture: true})
	if err != nil {
		return "", err
	}
	return string(res.Stdout), res.Err()
}
