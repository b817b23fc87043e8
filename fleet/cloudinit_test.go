package fleet_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/errdefs"
	"github.com/lxkit/lxkit/fleet"
	"github.com/lxkit/lxkit/spec"
	"github.com/lxkit/lxkit/testkit/testdrivers"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport"
)

// sameBothWays is a cloud-config of the keys both modes apply: groups,
// users, write_files (text, base64, modes, owners, append, defer) and
// runcmd (a shell line and an argv).
const sameBothWays = `#cloud-config
groups: [lxkgrp]
users:
  - name: lxkuser
    groups: [lxkgrp]
    shell: /bin/sh
write_files:
  - path: /etc/lxk/plain
    content: "a & b <c> ${X}\n"
    permissions: '0640'
  - path: /etc/lxk/b64
    encoding: b64
    content: aGVsbG8K
  - path: /etc/lxk/plain
    content: "more\n"
    append: true
  - path: /srv/lxk/deferred
    content: later
    owner: lxkuser:lxkgrp
    permissions: '0600'
    defer: true
runcmd:
  - echo "ran as $(id -un) in $PWD" > /root/ran
  - [sh, -c, 'stat -c "%U:%G %a" /srv/lxk/deferred > /root/deferred']
`

// more is a second file: its lists add to the first's, both ways (a
// multipart user-data whose parts cloud-init merges, natively).
const more = `#cloud-config
write_files:
  - path: /etc/lxk/more
    content: "from the second file\n"
runcmd:
  - echo second >> /root/ran
`

// looks is what the comparison reads in a container: owners, modes,
// contents and what the commands left.
const looks = `cd /
for f in /etc/lxk/plain /etc/lxk/b64 /etc/lxk/more /srv/lxk/deferred /srv/lxk /home/lxkuser /root/ran /root/deferred; do
  echo "$f: $(stat -c '%U:%G %a %s' "$f") $(test -f "$f" && sha256sum <"$f" | cut -c1-16)"
done
cat /root/ran /root/deferred
getent passwd lxkuser
getent group lxkgrp
id lxkuser
getent shadow lxkuser | cut -d: -f2
`

// launchCloud launches s (from CloudImage) and deletes it after the test.
func launchCloud(ctx context.Context, t *testing.T, d driver.Driver, s *spec.Spec) error {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = d.Delete(ctx, s.Name)
	})
	err := fleet.New(d).Launch(ctx, s)
	if errors.Is(err, errdefs.ErrNotFound) && strings.Contains(err.Error(), testhost.CloudImage) {
		testhost.Unavailable(t, "no %s image: %v (run `make cloudinit-image`)", testhost.CloudImage, err)
	}
	return err
}

// TestCloudConfigModes hands one cloud-config file to the image's own
// cloud-init (cloud-config-mode: native) and applies it through the API
// (the default), in two containers of the cloud-init image, and compares
// what each has; then a file whose runcmd fails makes the native launch
// fail with cloud-init's own words, and wait cloud-init says them too.
func TestCloudConfigModes(t *testing.T) {
	testdrivers.EachInTurn(t, func(t *testing.T, d driver.Driver) {
		ctx := testhost.Context(t, 10*time.Minute)
		dir := t.TempDir()
		files := map[string]string{
			"same.cfg": sameBothWays,
			"more.cfg": more,
			"bad.cfg":  "#cloud-config\nruncmd:\n  - echo before\n  - exit 3\n",
			"api.yaml": "image: " + testhost.CloudImage + "\ncloud-config: [same.cfg, more.cfg]\n",
			"native.yaml": "image: " + testhost.CloudImage + "\ncloud-config: [same.cfg, more.cfg]\n" +
				"cloud-config-mode: native\n",
			"bad.yaml": "image: " + testhost.CloudImage + "\ncloud-config: [bad.cfg]\n" +
				"cloud-config-mode: native\n",
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		load := func(file string) *spec.Spec {
			tpl, err := spec.Load(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			return instance(t, tpl, testhost.Name("cinit"))
		}
		api, native, bad := load("api.yaml"), load("native.yaml"), load("bad.yaml")

		var wg sync.WaitGroup
		errs := map[*spec.Spec]error{}
		var mu sync.Mutex
		for _, s := range []*spec.Spec{api, native, bad} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				err := launchCloud(ctx, t, d, s)
				t.Logf("%s (%s): launched in %s: %v", s.Name, s.Files[0], time.Since(start).Round(time.Millisecond), err)
				mu.Lock()
				errs[s] = err
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Skipped() {
			return
		}
		for _, s := range []*spec.Spec{api, native} {
			if errs[s] != nil {
				t.Fatalf("launch %s: %v", filepath.Base(s.Files[0]), errs[s])
			}
		}

		// The native instance has the user-data in its configuration, and
		// cloud-init read it from the seed the image's templates wrote.
		inst, err := d.Instance(ctx, native.Name)
		if err != nil {
			t.Fatal(err)
		}
		userData, err := fleet.NativeUserData(native.CloudConfig)
		if err != nil {
			t.Fatal(err)
		}
		if got := inst.Config[fleet.UserDataKey]; got != userData || !strings.Contains(got, "multipart/mixed") {
			t.Errorf("%s of the native instance:\n%s\nwant the two files as one multipart user-data", fleet.UserDataKey, got)
		}
		seed := read(ctx, t, d.Transport(native.Name), "/var/lib/cloud/seed/nocloud-net/user-data")
		if strings.TrimSpace(seed) != strings.TrimSpace(userData) {
			t.Errorf("seeded user-data:\n%s\nwant the instance's", seed)
		}
		// The api one: cloud-init ran too, with the empty default.
		if err := driver.WaitForCloudInit(ctx, d, api.Name, 5*time.Minute); err != nil {
			t.Errorf("cloud-init in the api instance (empty user-data): %v", err)
		}
		if inst, err := d.Instance(ctx, api.Name); err == nil && inst.Config[fleet.UserDataKey] != "" {
			t.Errorf("api instance has %s set", fleet.UserDataKey)
		}

		got := map[string]string{}
		for _, s := range []*spec.Spec{api, native} {
			out, err := transport.Run(ctx, d.Transport(s.Name), "/bin/sh", "-c", looks)
			if err != nil {
				t.Fatalf("%s: %v\n%s", s.Name, err, out)
			}
			got[s.Name] = out
		}
		if got[api.Name] != got[native.Name] {
			t.Errorf("the same file, applied both ways, differs:\napi:\n%s\nnative:\n%s", got[api.Name], got[native.Name])
		} else {
			t.Logf("both ways:\n%s", got[api.Name])
		}

		// A runcmd that fails: the native launch fails with cloud-init's
		// error and removes the instance, as an api launch does.
		if errs[bad] == nil || !strings.HasPrefix(errs[bad].Error(), bad.Name+": cloud-init finished with errors: ('scripts-user'") {
			t.Errorf("launch of a failing runcmd, native: %v; want cloud-init's scripts-user error", errs[bad])
		}
		if ok, err := driver.Exists(ctx, d, bad.Name); err != nil || ok {
			t.Errorf("failed native launch left %s: %v, %v", bad.Name, ok, err)
		}
	})
}
