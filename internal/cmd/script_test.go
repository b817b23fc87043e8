package cmd_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/api"
	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/internal/cmd"
	"github.com/lxkit/lxkit/internal/testhost"
	"github.com/lxkit/lxkit/transport"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary double as the lxkit command inside the
// scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"lxkit": func() { os.Exit(cmd.Main()) },
	})
}

// TestScripts runs every script of testdata/script against each daemon.
// A script sees:
//
//	HOST      the daemon's socket, for lxkit --host $HOST
//	HOSTDIR   the directory of HOST (for LXD_DIR)
//	NAME      a fresh container name; the script may use NAME-suffixes too
//	IMAGE     the test image's alias
//	IMAGE_FP  the first 12 digits of the test image's fingerprint
//	NESTED_TARBALL  the nested image (Debian with LXD), for deeper levels
//
// and a command `exitcode N prog args...` that runs prog and checks its
// exit status. Whatever a script leaves behind (NAME and NAME-*) is
// deleted when it ends, passed or failed.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the LXD and Incus daemons")
	}
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
			testscript.Run(t, testscript.Params{
				Dir:                 "testdata/script",
				RequireExplicitExec: true,
				Setup: func(env *testscript.Env) error {
					turn <- struct{}{}
					name := testhost.Name("cli")
					env.Setenv("HOST", h.Socket)
					env.Setenv("HOSTDIR", filepath.Dir(h.Socket))
					env.Setenv("NAME", name)
					env.Setenv("IMAGE", testhost.Image)
					env.Setenv("IMAGE_FP", fp[:12])
					env.Setenv("NESTED_TARBALL", nested)
					env.Defer(func() {
						deleteAll(env.T(), c, name)
						<-turn
					})
					return nil
				},
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"exitcode":    cmdExitCode,
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

// deleteAll deletes the containers a script made: name and name-*.
func deleteAll(t testscript.T, c *client.Client, name string) {
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
