// Package testhost gives integration tests the real daemons that `make
// hosts` sets up. A missing daemon skips the test on a developer's machine
// and fails it under CI=true, so that CI never counts a skip as a pass.
package testhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
)

// Image is the alias of the busybox test image on every test host.
const Image = "testimage"

// Host is one daemon under test.
type Host struct {
	Name   string // "lxd" or "incus"
	Socket string
}

// Hosts returns the daemons to test: $LXKIT_TEST_HOSTS (name=socket,...)
// or the Debian paths of LXD and Incus.
func Hosts() []Host {
	if v := os.Getenv("LXKIT_TEST_HOSTS"); v != "" {
		var hs []Host
		for _, part := range strings.Split(v, ",") {
			name, sock, _ := strings.Cut(part, "=")
			hs = append(hs, Host{Name: name, Socket: sock})
		}
		return hs
	}
	return []Host{
		{Name: "lxd", Socket: "/var/lib/lxd/unix.socket"},
		{Name: "incus", Socket: "/var/lib/incus/unix.socket"},
	}
}

// Integration skips an integration test under -short, which runs the unit
// tests only (make test runs them once more that way, with -race). Connect
// and the other helpers that reach a daemon call it.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the daemons: not with -short")
	}
}

// Unavailable skips the test, or fails it when CI=true.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and "+format, args...)
	}
	t.Skipf(format+" (run `make hosts`)", args...)
}

// Each runs f as a parallel subtest for each daemon, with a client to it.
func Each(t *testing.T, f func(t *testing.T, c *client.Client)) {
	t.Helper()
	for _, h := range Hosts() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			f(t, Connect(t, h))
		})
	}
}

// Connect returns a client to h, or skips (fails under CI) when h is down.
func Connect(t testing.TB, h Host) *client.Client {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, h.Socket)
	if err != nil {
		Unavailable(t, "%s daemon not available at %s: %v", h.Name, h.Socket, err)
	}
	return c
}

// Name returns a fresh instance name for a test.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "lxkit-" + prefix + "-" + hex.EncodeToString(b)
}

// Short returns a fresh name of prefix and 6 hex digits, for networks,
// whose names have at most 15 bytes.
func Short(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Context returns a context that ends with the test, bounded to d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Script is the path of the project's scripts/NAME, found from the test's
// working directory (go test runs a test in its package's directory) up
// to the module's root; not from the source file's path, which -trimpath
// (make test's GOFLAGS) makes relative.
func Script(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", name)
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatalf("no go.mod above the working directory, to find scripts/%s", name)
		}
		dir = up
	}
}
