package host_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/imageserver"
	"github.com/lxkit/lxkit/testkit/testhost"
)

// hostileCase is one way an image server lies, and how lxkit refuses it.
type hostileCase struct {
	name  string
	split bool
	opts  func(img testhost.ImageFiles, canary string) testhost.HostileOptions
	// daemon: lxkit's check passes (the server lies to the daemon only,
	// or in what only the files show) and the daemon refuses.
	daemon bool
	class  error
	says   []string // lxkit's words and, where the daemon refused, the daemon's
	stall  time.Duration
	// deadline, if set, is the caller's: the pull is given up when it ends.
	deadline time.Duration
	bound    time.Duration // the longest the refusal may take
}

// editItems applies f to every item of every product.
func editItems(f func(ftype string, it *imageserver.Item)) func(*imageserver.Products) {
	return func(p *imageserver.Products) {
		for _, prod := range p.Products {
			for _, v := range prod.Versions {
				for k, it := range v.Items {
					f(k, &it)
					v.Items[k] = it
				}
			}
		}
	}
}

// fileBytes serves the image's (unified) file at a path of the
// server's: what a daemon that follows a hostile path would get.
func fileBytes(t *testing.T, img testhost.ImageFiles, path string) map[string][]byte {
	data, err := os.ReadFile(img.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{path: data}
}

func randomSHA256() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hostileCases(t *testing.T) []hostileCase {
	const stall = 2 * time.Second
	path := func(p string) func(testhost.ImageFiles, string) testhost.HostileOptions {
		return func(img testhost.ImageFiles, _ string) testhost.HostileOptions {
			return testhost.HostileOptions{Edit: editItems(func(_ string, it *imageserver.Item) { it.Path = p }),
				Files: fileBytes(t, img, "/etc/passwd")}
		}
	}
	size := func(n int64) func(testhost.ImageFiles, string) testhost.HostileOptions {
		return func(testhost.ImageFiles, string) testhost.HostileOptions {
			return testhost.HostileOptions{Edit: editItems(func(_ string, it *imageserver.Item) { it.Size = n })}
		}
	}
	body := func(daemonOnly bool, f func([]byte) []byte) func(testhost.ImageFiles, string) testhost.HostileOptions {
		return func(testhost.ImageFiles, string) testhost.HostileOptions {
			return testhost.HostileOptions{DaemonOnly: daemonOnly, Body: func(_ string, d []byte) []byte { return f(d) }}
		}
	}
	endless := func(p string, rate, cap int, daemonOnly bool) func(testhost.ImageFiles, string) testhost.HostileOptions {
		return func(img testhost.ImageFiles, _ string) testhost.HostileOptions {
			if p == "" {
				p = "/images/" + img.Fingerprint + "/" + filepath.Base(img.Files[0])
			}
			return testhost.HostileOptions{Endless: p, Rate: rate, Cap: cap, DaemonOnly: daemonOnly}
		}
	}
	return []hostileCase{
		// Refused by lxkit's check: the daemon is never asked.
		{name: "dot-dot path", opts: path("../../etc/passwd"),
			class: errdefs.ErrIntegrity, says: []string{`path "../../etc/passwd" has a ".." element`}},
		{name: "absolute path", opts: path("/etc/passwd"),
			class: errdefs.ErrIntegrity, says: []string{`path "/etc/passwd" is absolute`}},
		// LXD 5.0.2 and Incus 6.0.4 create FINGERPRINT under their images
		// directory, then delete it when the download fails: this one is
		// the canary, which would be gone.
		{name: "fingerprint that is a path", opts: func(_ testhost.ImageFiles, canary string) testhost.HostileOptions {
			return testhost.HostileOptions{Edit: editItems(func(_ string, it *imageserver.Item) { it.SHA256 = "../../../.." + canary })}
		}, class: errdefs.ErrIntegrity, says: []string{`sha256 "../../../..`, "is not a SHA-256"}},
		{name: "combined fingerprint that is a path", split: true, opts: func(_ testhost.ImageFiles, canary string) testhost.HostileOptions {
			return testhost.HostileOptions{Edit: editItems(func(_ string, it *imageserver.Item) {
				if it.CombinedSHA256 != "" {
					it.CombinedSHA256, it.CombinedRootxzSHA256 = "../../../.."+canary, "../../../.."+canary
				}
			})}
		}, class: errdefs.ErrIntegrity, says: []string{"combined_", "is not a SHA-256"}},
		{name: "size that lies low", opts: size(1),
			class: errdefs.ErrIntegrity, says: []string{"its index says 1"}},
		{name: "size that lies high", opts: size(1 << 50),
			class: errdefs.ErrIntegrity, says: []string{"its index says 1125899906842624"}},
		{name: "file with more bytes", opts: body(false, func(d []byte) []byte { return append(d, make([]byte, 4096)...) }),
			class: errdefs.ErrIntegrity, says: []string{"bytes, its index says"}},
		{name: "file with fewer bytes", opts: body(false, func(d []byte) []byte { return d[:len(d)/2] }),
			class: errdefs.ErrIntegrity, says: []string{"bytes, its index says"}},
		{name: "index that never ends, fast", opts: endless(imageserver.IndexPath, 0, 0, false),
			class: errdefs.ErrIntegrity, says: []string{"streams/v1/index.json: it does not end within 4194304 bytes"}},
		{name: "index that never ends, slowly", opts: endless(imageserver.IndexPath, 4096, 0, false), stall: stall,
			class: errdefs.ErrUnavailable, says: []string{"streams/v1/index.json did not come whole within 2s"}},
		{name: "products that never end, slowly", opts: endless(imageserver.ProductsPath, 4096, 0, false), stall: stall,
			class: errdefs.ErrUnavailable, says: []string{"streams/v1/images.json did not come whole within 2s"}},

		// Past lxkit's check: the daemon refuses, lxkit says what it means.
		{name: "wrong hash", split: true, daemon: true, opts: func(testhost.ImageFiles, string) testhost.HostileOptions {
			return testhost.HostileOptions{Edit: editItems(func(ft string, it *imageserver.Item) {
				if ft == imageserver.FileTypeRootTar {
					it.SHA256 = randomSHA256()
				}
			})}
		}, class: errdefs.ErrIntegrity, says: []string{"the daemon refused a file from", "Hash mismatch"}},
		{name: "wrong combined fingerprint", split: true, daemon: true, opts: func(testhost.ImageFiles, string) testhost.HostileOptions {
			fp := randomSHA256()
			return testhost.HostileOptions{Edit: editItems(func(_ string, it *imageserver.Item) {
				if it.CombinedSHA256 != "" {
					it.CombinedSHA256, it.CombinedRootxzSHA256 = fp, fp
				}
			})}
		}, class: errdefs.ErrIntegrity, says: []string{"do not make the fingerprint", "Image fingerprint doesn't match"}},
		{name: "more bytes to the daemon only", daemon: true, opts: body(true, func(d []byte) []byte { return append(d, 'x') }),
			class: errdefs.ErrIntegrity, says: []string{"the daemon refused a file from", "Hash mismatch"}},
		{name: "index that never ends to the daemon, slowly", daemon: true, opts: endless(imageserver.IndexPath, 4096, 0, true), stall: stall,
			class: errdefs.ErrUnavailable, says: []string{"no progress for 2s: given up", "the daemon cannot cancel it"}},
		{name: "index that never ends to the daemon, fast", daemon: true, opts: endless(imageserver.IndexPath, 0, 16<<20, true), stall: stall,
			class: errdefs.ErrUnavailable, says: []string{"no progress for 2s: given up", "the daemon cannot cancel it"}},
		{name: "file that never ends to the daemon", daemon: true, opts: endless("", 64<<10, 0, true), deadline: 6 * time.Second,
			class: context.DeadlineExceeded, says: []string{"the daemon cancelled it"}},
	}
}

// TestHostileImageServer makes each daemon, through each driver, pull
// from image servers that lie (package testhost's HostileImages): with
// CopyFromServer and with Create from the server's image (what `lxkit
// launch --server` does). Each is refused with a classified error in
// bounded time, and the host keeps nothing of it: no image (by
// fingerprint, alias or the server's token), instance, volume or file in
// the daemon's images directory, and what was there before the test that
// no other test made is as it was.
func TestHostileImageServer(t *testing.T) {
	testhost.Integration(t)
	eachDriver(t, func(t *testing.T, d driver.Driver, h *host.Host) {
		ctx := testhost.Context(t, 10*time.Minute)
		obs := observe(ctx, t, h)
		for _, c := range hostileCases(t) {
			t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
				hostile(ctx, t, d, h, obs, c)
			})
		}
	})
}

func hostile(ctx context.Context, t *testing.T, d driver.Driver, h *host.Host, obs *observer, c hostileCase) {
	dir := t.TempDir()
	canary := filepath.Join(t.TempDir(), "canary")
	if err := os.WriteFile(canary, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	alias := "h" + randomSHA256()[:10]
	img := testhost.NewImageFiles(t, dir, alias, c.split)
	local, inst := testhost.Name("hostile"), testhost.Name("hostile")
	t.Cleanup(func() {
		_ = d.Delete(context.Background(), inst)
		_ = h.Images().Delete(context.Background(), img.Fingerprint)
	})
	mine := &attribution{fps: []string{img.Fingerprint}, names: []string{local, inst}}
	before := obs.state(ctx, t)

	var abandoned []string
	try := func(what string, pull func(ctx context.Context, srv *testhost.HostileImages) error) {
		srv := testhost.ServeHostileImages(t, dir, c.opts(img, canary))
		mine.tokens = append(mine.tokens, srv.Token)
		pctx := ctx
		if c.deadline > 0 {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, c.deadline)
			defer cancel()
		}
		start := time.Now()
		err := pull(pctx, srv)
		took := time.Since(start)
		t.Logf("%s: %v (%s)", what, err, took.Round(time.Millisecond))
		mustClass(t, what, err, c.class, append([]string{srv.URL}, c.says...)...)
		bound := c.bound
		if bound == 0 {
			bound = 10*time.Second + c.stall + c.deadline
		}
		if took > bound {
			t.Errorf("%s: refused after %s, more than %s", what, took, bound)
		}
		if asked := srv.DaemonRequests(); !c.daemon && len(asked) > 0 {
			t.Errorf("%s: lxkit refused, yet the daemon asked the server for %v", what, asked)
		}
		var ae *host.AbandonedError
		if errors.As(err, &ae) && !ae.Ended {
			abandoned = append(abandoned, ae.Operation)
		}
		srv.Close() // ends what the daemon still reads
	}
	src := func(srv *testhost.HostileImages) host.ImageServer {
		return host.ImageServer{URL: srv.URL, Protocol: host.ProtocolSimpleStreams, Certificate: srv.Certificate, Stall: c.stall}
	}
	try("CopyFromServer", func(ctx context.Context, srv *testhost.HostileImages) error {
		_, err := h.Images().CopyFromServer(ctx, src(srv), alias, host.CopyOptions{Aliases: []string{local}})
		return err
	})
	try("Create", func(ctx context.Context, srv *testhost.HostileImages) error {
		s := src(srv)
		return d.Create(ctx, inst, driver.CreateOptions{Image: driver.Image{
			Server: s.URL, Protocol: s.Protocol, Certificate: s.Certificate, Alias: alias, Stall: s.Stall}})
	})
	// An operation the daemon could not cancel ends once the server has
	// gone (the daemon's read of the endless answer fails).
	for _, id := range abandoned {
		waitEnded(ctx, t, h, id)
	}

	if data, err := os.ReadFile(canary); err != nil || string(data) != "mine" {
		t.Errorf("the canary the server's fingerprint names: %q, %v", data, err)
	}
	// A cancelled download's partial files go a moment after its
	// operation reads Cancelled (seen on Incus 6.0.4): let the daemon
	// finish.
	after, settled := obs.state(ctx, t), time.Now()
	for len(mine.in(after)) > 0 && time.Since(settled) < 10*time.Second {
		time.Sleep(250 * time.Millisecond)
		after = obs.state(ctx, t)
	}
	if waited := time.Since(settled); waited > time.Second {
		t.Logf("the daemon's leftovers took %s to go", waited.Round(time.Millisecond))
	}
	for _, p := range mine.in(after) {
		t.Errorf("left on the host: %s", p)
	}
	for _, p := range before.baselineChanges(after) {
		t.Errorf("changed on the host: %s", p)
	}
}

// waitEnded waits until an operation has ended.
func waitEnded(ctx context.Context, t *testing.T, h *host.Host, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		op, err := h.Operation(ctx, id)
		if errors.Is(err, errdefs.ErrNotFound) || err == nil && op.Done() {
			if op != nil {
				t.Logf("the operation lxkit gave up ended once the server went: %s %s", op.Status, op.Err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still runs 30s after the server went: %+v, %v", id, op, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// observer reads a daemon's state over its socket, whichever driver a
// test drives it with, and its images directory.
type observer struct {
	d         driver.Driver
	h         *host.Host
	imagesDir string
}

// observe returns the observer of the daemon behind h.
func observe(ctx context.Context, t *testing.T, h *host.Host) *observer {
	s, err := h.Server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range testhost.Hosts() {
		if th.Name == s.Environment.Server {
			c := testhost.Connect(t, th)
			return &observer{d: rest.New(c), h: host.New(c), imagesDir: filepath.Join(filepath.Dir(th.Socket), "images")}
		}
	}
	t.Fatalf("no test host for a %s daemon", s.Environment.Server)
	return nil
}

// hostState is what a host has, by kind: each object as one line.
type hostState struct {
	images    map[string]api.Image
	aliases   map[string]string // name -> target
	instances []string
	other     map[string][]string // profiles, pools, volumes, managed networks, certificates: one line each
	files     []string            // in the daemon's images directory
}

func (o *observer) state(ctx context.Context, t *testing.T) *hostState {
	t.Helper()
	d, h := o.d, o.h
	s := &hostState{images: map[string]api.Image{}, aliases: map[string]string{}, other: map[string][]string{}}
	images, err := h.Images().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		s.images[im.Fingerprint] = im
		for _, a := range im.Aliases {
			s.aliases[a.Name] = im.Fingerprint
		}
	}
	insts, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		s.instances = append(s.instances, in.Name)
	}
	profiles, err := h.Profiles().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		s.other["profile"] = append(s.other["profile"], fmt.Sprintf("%s %v %v", p.Name, p.Config, p.Devices))
	}
	pools, err := h.StoragePools().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools {
		s.other["pool"] = append(s.other["pool"], fmt.Sprintf("%s %s %v", p.Name, p.Driver, p.Config))
		vols, err := h.Volumes(p.Name).List(ctx)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // a pool of a test running beside this one, deleted since the list (ci65)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vols {
			s.other["volume"] = append(s.other["volume"], p.Name+"/"+v.Type+"/"+v.Name)
		}
	}
	networks, err := h.Networks().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range networks {
		if n.Managed {
			s.other["network"] = append(s.other["network"], fmt.Sprintf("%s %v", n.Name, n.Config))
		}
	}
	var certs []api.Certificate
	if _, err := d.API().Query(ctx, http.MethodGet, "/1.0/certificates?recursion=1", nil, &certs); err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		s.other["certificate"] = append(s.other["certificate"], c.Name+" "+c.Fingerprint)
	}
	entries, err := os.ReadDir(o.imagesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		s.files = append(s.files, e.Name())
	}
	return s
}

// attribution recognises what a test's servers could have left: images
// of its fingerprints or with one of its servers' tokens as release, and
// objects that carry its names or those images' fingerprints.
type attribution struct {
	fps, names, tokens []string
}

func (a *attribution) in(s *hostState) []string {
	var found []string
	fps := slices.Clone(a.fps)
	for fp, im := range s.images {
		if slices.Contains(a.fps, fp) || slices.Contains(a.tokens, im.Properties["release"]) {
			found = append(found, fmt.Sprintf("image %s %v", fp, im.Properties))
			fps = append(fps, fp)
		}
	}
	for name, target := range s.aliases {
		if slices.Contains(a.names, name) || slices.Contains(fps, target) {
			found = append(found, "image alias "+name)
		}
	}
	for _, in := range s.instances {
		if slices.Contains(a.names, in) {
			found = append(found, "instance "+in)
		}
	}
	carries := func(s string) bool {
		for _, x := range append(slices.Clone(a.names), fps...) {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	for _, v := range s.other["volume"] {
		if carries(v) {
			found = append(found, "volume "+v)
		}
	}
	for _, f := range s.files {
		if carries(f) {
			found = append(found, "file "+f)
		}
	}
	return found
}

// ownAliases is an image without the aliases other tests give it as they
// run beside this one (lxkit-*, as testhost.Name makes them: ci63 saw a
// script test's alias go from the test image during this test).
func ownAliases(im api.Image) api.Image {
	im.Aliases = slices.DeleteFunc(slices.Clone(im.Aliases), func(a api.ImageAlias) bool { return strings.HasPrefix(a.Name, "lxkit-") })
	return im
}

// baselineChanges lists what differs in after among what `make hosts`
// set up and the tests share: the test images (by their aliases), their
// files and volumes, the default profile and pool, the managed networks,
// the trusted certificates that no test added. Other tests come and go on
// the same daemons meanwhile; what they make is theirs.
func (s *hostState) baselineChanges(after *hostState) []string {
	var changes []string
	base := map[string]bool{}
	for _, alias := range []string{testhost.Image, testhost.NestImage} {
		fp, ok := s.aliases[alias]
		if !ok {
			continue
		}
		base[fp] = true
		if after.aliases[alias] != fp {
			changes = append(changes, fmt.Sprintf("image alias %s: %.12s, was %.12s", alias, after.aliases[alias], fp))
		}
		if b, a := ownAliases(s.images[fp]), ownAliases(after.images[fp]); fmt.Sprint(b) != fmt.Sprint(a) {
			changes = append(changes, fmt.Sprintf("image %.12s: %+v, was %+v", fp, a, b))
		}
	}
	shared := func(kind, line string) bool {
		switch kind {
		case "profile", "pool":
			return strings.HasPrefix(line, "default ")
		case "network":
			// Not those of tests running beside this one ("lxk...").
			return !strings.HasPrefix(line, "lxk")
		case "volume":
			_, fp, _ := strings.Cut(line, "/image/")
			return base[fp]
		case "certificate":
			return !strings.HasPrefix(line, "lxkit-")
		}
		return false
	}
	for kind, lines := range s.other {
		for _, l := range lines {
			if shared(kind, l) && !slices.Contains(after.other[kind], l) {
				changes = append(changes, fmt.Sprintf("%s %q is gone or changed", kind, l))
			}
		}
	}
	for _, f := range s.files {
		if base[strings.TrimSuffix(f, ".rootfs")] && !slices.Contains(after.files, f) {
			changes = append(changes, "image file "+f+" is gone")
		}
	}
	return changes
}
