package command_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/cmd/lxkit/command"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/host"
	"github.com/lxkit/lxkit/imageserver"
	"github.com/lxkit/lxkit/internal/certs"
	"github.com/lxkit/lxkit/testkit/testcluster"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/testkit/testsshd"
	"github.com/lxkit/lxkit/transport"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary double as the lxkit command inside the
// scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"lxkit": func() { os.Exit(command.Main()) },
	})
}

// TestScripts runs every script of testdata/script against each daemon.
// A script sees:
//
//	HOST      the daemon's socket, for lxkit --host $HOST
//	HOSTDIR   the directory of HOST (for LXD_DIR)
//	NAME      a fresh container name; the script may use NAME-suffixes too
//	SHORT     a fresh name of 11 bytes, for networks (15 bytes at most);
//	          the script may use SHORT-suffixes too
//	IMAGE     the test image's alias
//	IMAGE_FP  the first 12 digits of the test image's fingerprint
//	NESTED_TARBALL  the nested image (Debian with LXD), for deeper levels
//	HTTPS_ADDR      where the daemon listens for HTTPS (127.0.0.1:PORT)
//	OTHER_HTTPS     the other daemon's HTTPS address, for a wrong certificate
//	OTHER_HOST      the other daemon's socket
//	KIND            lxd or incus
//	CLI             lxc or incus, the daemon's own command
//	SSH_URL         ssh://USER@127.0.0.1:PORT of a private sshd on this
//	                machine, whose key and known_hosts are in $HOME/.ssh
//	SSH_PORT, SSH_USER  its port and login, for an ~/.ssh/config
//	LXKIT_CONF, LXD_CONF, INCUS_CONF  empty config dirs in $WORK, so that
//	                no script sees or changes the user's own
//	CLUSTER         the unix socket of member m1 of the cluster of this
//	                daemon's kind (make cluster; members m1, m2, m3)
//
// and commands `exitcode N prog args...`, which runs prog and checks its
// exit status, and `envfrom VAR FILE`, which sets VAR to FILE's text
// (trimmed). Whatever a script leaves behind is deleted when it ends,
// passed or failed: containers named NAME or NAME-*, and profiles,
// projects, networks, storage pools (with their volumes) and custom
// volumes named NAME, NAME-*, SHORT or SHORT-*.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the LXD and Incus daemons")
	}
	t.Parallel() // beside TestHostileNames
	for _, h := range testhost.Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			c := testhost.Connect(t, h)
			fp := imageFingerprint(t, c)
			nested := testhost.NestedTarball(t)
			// One script at a time per daemon: under concurrent load both
			// daemons sometimes drop the output of a command that exits
			// right after writing it (`lxc exec` and `incus exec` too).
			turn := make(chan struct{}, 1)
			https := testhost.ListenHTTPS(t, h)
			other := otherHost(h)
			testhost.ListenHTTPS(t, other)
			otherClient := testhost.Connect(t, other)
			sshd := testsshd.Start(t)
			cl := clusterOf(h)
			clusterClient := cl.Unix(t, "m1")
			testscript.Run(t, testscript.Params{
				Dir:                 "testdata/script",
				RequireExplicitExec: true,
				Setup: func(env *testscript.Env) error {
					turn <- struct{}{}
					unlock := lockMachine(env.T())
					name, short := testhost.Name("cli"), shortName()
					env.Setenv("HOST", h.Socket)
					env.Setenv("HOSTDIR", filepath.Dir(h.Socket))
					env.Setenv("NAME", name)
					env.Setenv("SHORT", short)
					env.Setenv("IMAGE", testhost.Image)
					env.Setenv("IMAGE_FP", fp[:12])
					env.Setenv("NESTED_TARBALL", nested)
					env.Setenv("HTTPS_ADDR", strings.TrimPrefix(https.Addr, "https://"))
					env.Setenv("OTHER_HTTPS", testhost.HTTPSAddress[other.Name])
					env.Setenv("OTHER_HOST", other.Socket)
					env.Setenv("KIND", h.Name)
					env.Setenv("CLI", map[string]string{"lxd": "lxc", "incus": "incus"}[h.Name])
					env.Setenv("SSH_URL", sshd.URL())
					env.Setenv("CLUSTER", cl.Socket("m1"))
					env.Setenv("SSH_PORT", strconv.Itoa(sshd.Port))
					env.Setenv("SSH_USER", sshd.User)
					if err := sshHome(env, sshd); err != nil {
						return err
					}
					for _, v := range []string{"LXKIT_CONF", "LXD_CONF", "INCUS_CONF"} {
						env.Setenv(v, filepath.Join(env.WorkDir, strings.ToLower(v)))
					}
					if scriptName(env.T()) == "images_remote" {
						serveImages(t, env, c, otherClient)
					}
					env.Defer(func() {
						deleteAll(env.T(), c, name)
						deleteAll(env.T(), otherClient, name)
						deleteAll(env.T(), clusterClient, name)
						deleteClusterGroups(env.T(), clusterClient, name)
						deleteHostObjects(env.T(), c, name, short)
						deleteImages(env.T(), c, name)
						deleteImages(env.T(), otherClient, name)
						for _, dir := range []string{"lxkit_conf", "lxd_conf", "incus_conf"} {
							untrust(env.T(), c, filepath.Join(env.WorkDir, dir, "client.crt"))
							untrust(env.T(), otherClient, filepath.Join(env.WorkDir, dir, "client.crt"))
						}
						unlock()
						<-turn
					})
					return nil
				},
				// [lxd] and [incus]: which daemon the script runs against.
				Condition: func(cond string) (bool, error) {
					if cond != "lxd" && cond != "incus" {
						return false, fmt.Errorf("unknown condition %q", cond)
					}
					return cond == h.Name, nil
				},
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"exitcode":    cmdExitCode,
					"envfrom":     cmdEnvFrom,
					"incontainer": inContainer(c),
				},
			})
		})
	}
}

// cmdExitCode runs `exitcode N prog args...`: prog must exit with status N.
// Its output is kept for stdout and stderr, like exec's.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N prog [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d; want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdEnvFrom runs `envfrom VAR FILE`.
func cmdEnvFrom(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfrom VAR FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

// machine is held by every script while it runs, shared, and by the
// exclusive ones alone.
var machine sync.RWMutex

// exclusive are the scripts that run while no other one does, on either
// daemon: Incus 6.0 fails to create, rename or delete a bridge (with "not
// found", or "Failed to delete bridge children interfaces") when a
// network interface of the machine comes or goes meanwhile, as
// containers' do when they start and stop.
var exclusive = map[string]bool{"host_network": true}

// lockMachine takes machine for the script t runs.
func lockMachine(t testscript.T) (unlock func()) {
	if exclusive[scriptName(t)] {
		machine.Lock()
		return machine.Unlock
	}
	machine.RLock()
	return machine.RUnlock
}

// sshHome makes $HOME/.ssh hold the sshd's user key and known_hosts, as a
// user who has logged in there before has them.
func sshHome(env *testscript.Env, srv *testsshd.Server) error {
	home := filepath.Join(env.WorkDir, "home")
	env.Setenv("HOME", home)
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for src, dst := range map[string]string{srv.KeyFile: "id_ed25519", srv.KnownHosts: "known_hosts"} {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// otherHost is a test daemon other than h.
// clusterOf returns the cluster of h's kind.
func clusterOf(h testhost.Host) testcluster.Cluster {
	for _, c := range testcluster.Clusters() {
		if c.Name == h.Name {
			return c
		}
	}
	panic("no cluster of kind " + h.Name)
}

// deleteClusterGroups deletes the cluster groups named name or name-*,
// taking the members out of them first.
func deleteClusterGroups(t logger, c *client.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := host.New(rest.New(c).API())
	groups, err := h.ClusterGroups().List(ctx)
	if err != nil {
		t.Log("cleanup: listing cluster groups:", err)
		return
	}
	for _, g := range groups {
		if g.Name != name && !strings.HasPrefix(g.Name, name+"-") {
			continue
		}
		for _, m := range g.Members {
			err := h.UpdateClusterMember(ctx, m, func(p *api.ClusterMemberPut) error {
				p.Groups = slices.DeleteFunc(p.Groups, func(x string) bool { return x == g.Name })
				if len(p.Groups) == 0 {
					p.Groups = []string{"default"}
				}
				return nil
			})
			if err != nil {
				t.Log("cleanup: taking", m, "out of cluster group", g.Name+":", err)
			}
		}
		if err := h.ClusterGroups().Delete(ctx, g.Name); err != nil {
			t.Log("cleanup: deleting cluster group", g.Name+":", err)
		}
	}
}

func otherHost(h testhost.Host) testhost.Host {
	for _, o := range testhost.Hosts() {
		if o.Name != h.Name {
			return o
		}
	}
	return h
}

// scriptName is the name of the script t runs ("lifecycle").
func scriptName(t testscript.T) string {
	if n, ok := t.(interface{ Name() string }); ok {
		return path.Base(n.Name())
	}
	return ""
}

// serveImages serves two new images (no daemon has them) over HTTPS on
// loopback, as lxkit image serve does, under a path of its own (the
// daemons keep a server's index an hour by URL), for images_remote:
// SERVED_URL, SERVED_ALIAS, SERVED_FP and SERVED_FP12 (the first, an alias of the
// server), SERVED2_FILE and SERVED2_FP (the second, a file to import).
// Both are deleted from both daemons when the script ends.
func serveImages(t *testing.T, env *testscript.Env, c, other *client.Client) {
	dir := filepath.Join(env.WorkDir, "served")
	if err := os.Mkdir(dir, 0o755); err != nil {
		env.T().Fatal(err)
	}
	a := testhost.NewImageFiles(t, dir, "served-a", false)
	b := testhost.NewImageFiles(t, filepath.Join(env.WorkDir), "served-b", false)
	srv := testhost.ServeImages(t, dir, imageserver.Options{})
	env.Setenv("SERVED_URL", srv.URL)
	env.Setenv("SERVED_ALIAS", "served-a")
	env.Setenv("SERVED_FP", a.Fingerprint)
	env.Setenv("SERVED_FP12", a.Fingerprint[:12])
	env.Setenv("SERVED2_FILE", b.Files[0])
	env.Setenv("SERVED2_FP", b.Fingerprint)
	env.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, cl := range []*client.Client{c, other} {
			for _, fp := range []string{a.Fingerprint, b.Fingerprint} {
				_ = host.New(rest.New(cl).API()).Images().Delete(ctx, fp)
			}
		}
	})
}

// untrust removes the certificate a script made (if any) from the daemon.
func untrust(t testscript.T, c *client.Client, certFile string) {
	cert, err := certs.ReadCertificate(certFile)
	if err != nil {
		return
	}
	if err := c.RemoveCertificate(context.Background(), client.Fingerprint(cert)); err != nil {
		t.Log("cleanup: ", err)
	}
}

// inContainer returns `incontainer NAME CMD [ARG...]`: it runs a command in
// a container through the library with captured output (the daemon's
// recorded-output mode, which never drops output), for checking what the
// lxkit commands did. Its output becomes the script's stdout and stderr; a
// non-zero exit fails it (or passes it under !).
func inContainer(c *client.Client) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 {
			ts.Fatalf("usage: incontainer NAME CMD [ARG...]")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := rest.New(c).Transport(args[0]).Exec(ctx, transport.Command{Args: args[1:], Capture: true})
		if err != nil {
			ts.Fatalf("incontainer: %v", err)
		}
		ts.Stdout().Write(res.Stdout)
		ts.Stderr().Write(res.Stderr)
		if failed := res.ExitCode != 0; failed != neg {
			ts.Fatalf("incontainer %s: exit status %d", strings.Join(args[1:], " "), res.ExitCode)
		}
	}
}

func imageFingerprint(t *testing.T, c *client.Client) string {
	t.Helper()
	var alias api.ImageAliasesEntry
	ctx := testhost.Context(t, 10*time.Second)
	if _, err := c.Query(ctx, http.MethodGet, "/1.0/images/aliases/"+testhost.Image, nil, &alias); err != nil {
		testhost.Unavailable(t, "test image %q: %v", testhost.Image, err)
	}
	if len(alias.Target) < 12 {
		t.Fatalf("test image alias points at %q", alias.Target)
	}
	return alias.Target
}

// logger is what the cleanups need of a test: testscript's or testing's.
type logger interface{ Log(...any) }

// deleteAll deletes the containers a script made: name and name-*.
func deleteAll(t logger, c *client.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := rest.New(c)
	all, err := d.List(ctx)
	if err != nil {
		t.Log("cleanup: listing containers: ", err)
		return
	}
	for _, inst := range all {
		if inst.Name == name || strings.HasPrefix(inst.Name, name+"-") {
			if err := d.Delete(ctx, inst.Name); err != nil {
				t.Log("cleanup: ", err)
			}
		}
	}
}

// shortName is a fresh name of 11 bytes: "lxk" and 8 hex digits.
func shortName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "lxk" + hex.EncodeToString(b)
}

// deleteHostObjects deletes the profiles, projects, networks, storage
// pools and custom volumes a script made: those named name, short, or
// either with a "-suffix". A pool goes with all its volumes.
// deleteImages deletes the images that have an alias NAME or NAME-*
// (published or copied by a script): left behind, a busybox image would
// make other tests' choice of image by properties ambiguous.
func deleteImages(t testscript.T, c *client.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	images := host.New(rest.New(c).API()).Images()
	list, err := images.List(ctx)
	if err != nil {
		t.Log("cleanup: ", err)
		return
	}
	for _, img := range list {
		for _, a := range img.Aliases {
			if a.Name == name || strings.HasPrefix(a.Name, name+"-") {
				if err := images.Delete(ctx, img.Fingerprint); err != nil {
					t.Log("cleanup: ", err)
				}
				break
			}
		}
	}
}

func deleteHostObjects(t logger, c *client.Client, name, short string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mine := func(n string) bool {
		return n == name || n == short || strings.HasPrefix(n, name+"-") || strings.HasPrefix(n, short+"-")
	}
	logErr := func(err error) {
		if err != nil {
			t.Log("cleanup: ", err)
		}
	}
	h := host.New(rest.New(c).API())
	pools, err := h.StoragePools().List(ctx)
	logErr(err)
	for _, p := range pools {
		vols, err := h.Volumes(p.Name).List(ctx)
		logErr(err)
		for _, v := range vols {
			if (mine(p.Name) || mine(v.Name)) && !strings.Contains(v.Name, "/") { // a snapshot goes with its volume
				logErr(h.Volumes(p.Name).Delete(ctx, v.Name))
			}
		}
	}
	profiles, err := h.Profiles().List(ctx)
	logErr(err)
	for _, p := range profiles {
		if mine(p.Name) {
			logErr(h.Profiles().Delete(ctx, p.Name))
		}
	}
	projects, err := h.Projects().List(ctx)
	logErr(err)
	for _, p := range projects {
		if mine(p.Name) {
			// Its containers first: a project in use cannot go.
			pc, err := client.New(ctx, c.Addr(), client.WithProject(p.Name))
			logErr(err)
			if err == nil {
				deleteAll(t, pc, name)
				// And its own custom volumes (features.storage.volumes).
				ph := host.New(rest.New(pc).API())
				for _, pool := range pools {
					vols, err := ph.Volumes(pool.Name).List(ctx)
					logErr(err)
					for _, v := range vols {
						if v.Type == "custom" && mine(v.Name) && !strings.Contains(v.Name, "/") {
							logErr(ph.Volumes(pool.Name).Delete(ctx, v.Name))
						}
					}
				}
			}
			logErr(h.Projects().Delete(ctx, p.Name))
		}
	}
	nets, err := h.Networks().List(ctx)
	logErr(err)
	for _, n := range nets {
		if mine(n.Name) {
			logErr(h.Networks().Delete(ctx, n.Name))
		}
	}
	for _, p := range pools {
		if mine(p.Name) {
			logErr(h.StoragePools().Delete(ctx, p.Name))
		}
	}
}
