// Package testcluster gives integration tests the two real clusters that
// `make cluster` forms (scripts/cluster.sh): three LXD 5.0.2 members and
// three Incus 6.0.4 members, each a daemon of its own in a network
// namespace of this machine, named m1, m2 and m3. A missing cluster skips
// the test on a developer's machine and fails it under CI=true.
package testcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/client"
	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

// Base is where make cluster keeps the members' state directories.
const Base = "/var/lib/lxkit-cluster"

// Members are the names of the members of each cluster.
var Members = []string{"m1", "m2", "m3"}

// Cluster is one of the two clusters.
type Cluster struct {
	Name   string // "lxd" or "incus"
	Remote string // the lxkit (and lxc/incus) remote make cluster adds
	octet  string // the members' addresses are 10.99.0.<octet><n>
}

// Clusters returns both clusters.
func Clusters() []Cluster {
	return []Cluster{
		{Name: "lxd", Remote: "lxd-cluster", octet: "2"},
		{Name: "incus", Remote: "incus-cluster", octet: "1"},
	}
}

// Dir is a member's state directory (LXD_DIR, INCUS_DIR).
func (c Cluster) Dir(member string) string { return filepath.Join(Base, c.Name+"-"+member) }

// Socket is a member's unix socket.
func (c Cluster) Socket(member string) string { return filepath.Join(c.Dir(member), "unix.socket") }

// DaemonLog returns the last lines of a member's daemon log, for a
// failure's message: what the daemon said when it dropped a request.
func (c Cluster) DaemonLog(member string, lines int) string {
	data, err := os.ReadFile(filepath.Join(c.Dir(member), "daemon.log"))
	if err != nil {
		return fmt.Sprintf("(no daemon log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// Address is where a member serves the cluster and HTTPS clients.
func (c Cluster) Address(member string) string {
	return fmt.Sprintf("10.99.0.%s%s:8443", c.octet, strings.TrimPrefix(member, "m"))
}

// Unix returns a client to a member over its unix socket.
func (c Cluster) Unix(t testing.TB, member string) *client.Client {
	t.Helper()
	return testhost.Connect(t, testhost.Host{Name: c.Name + " cluster member " + member, Socket: c.Socket(member)})
}

// Connect returns a client to a member over HTTPS, with a fresh client
// certificate the cluster trusts and the cluster's certificate pinned.
func (c Cluster) Connect(t testing.TB, member string, opts ...client.Option) *client.Client {
	t.Helper()
	unix := c.Unix(t, member)
	cert, err := unix.ServerCert()
	if err != nil {
		t.Fatal(err)
	}
	s := &testhost.HTTPS{Addr: "https://" + c.Address(member), ServerCert: cert, Unix: unix}
	return testhost.ConnectTrusted(t, c.Name+" cluster member "+member, s, opts...)
}

// Each runs f as a parallel subtest for each cluster.
func Each(t *testing.T, f func(t *testing.T, c Cluster)) {
	t.Helper()
	for _, c := range Clusters() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			f(t, c)
		})
	}
}

// Spare starts a fresh daemon of the cluster's kind, member m4, that is
// in no cluster, in a namespace of its own on the members' network, and
// returns a client to it over its unix socket and its address. It is
// removed when the test ends. Only one test at a time may use it.
func (c Cluster) Spare(t testing.TB) (*client.Client, string) {
	t.Helper()
	testhost.Integration(t)
	if _, err := os.Stat(c.Socket("m1")); err != nil {
		testhost.Unavailable(t, "%s cluster not formed: %v (run `make cluster`)", c.Name, err)
	}
	c.script(t, "spare", c.Name)
	t.Cleanup(func() { c.script(t, "spare-down", c.Name) })
	return c.Unix(t, "m4"), c.Address("m4")
}

// Kill ends a member's daemon with SIGKILL (its containers run on).
// Only the spare, m4, may be killed: the others serve tests in parallel.
func (c Cluster) Kill(t testing.TB, member string) {
	t.Helper()
	if member != "m4" {
		t.Fatalf("Kill %s: only the spare member m4 may be killed", member)
	}
	c.script(t, "kill", c.Name, member)
}

// Start starts a member's daemon again, as it was.
func (c Cluster) Start(t testing.TB, member string) {
	t.Helper()
	c.script(t, "start", c.Name, member)
}

// script runs scripts/cluster.sh with args, failing the test if it fails.
func (c Cluster) script(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", append([]string{testhost.Script(t, "cluster.sh")}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// EachDriver runs f as a parallel subtest for each cluster and each
// driver, both reaching member m1: REST over HTTPS, and the daemon's own
// command over m1's unix socket.
func EachDriver(t *testing.T, f func(t *testing.T, c Cluster, d driver.Driver)) {
	t.Helper()
	Each(t, func(t *testing.T, c Cluster) {
		t.Run("rest", func(t *testing.T) {
			t.Parallel()
			f(t, c, rest.New(c.Connect(t, "m1")))
		})
		t.Run("cli", func(t *testing.T) {
			t.Parallel()
			c.Unix(t, "m1") // skips, or fails under CI, without the cluster
			d, err := cli.New(testhost.Context(t, 30*time.Second), local.New(), cli.ForSocket(c.Socket("m1")))
			if err != nil {
				testhost.Unavailable(t, "%s cluster through its command: %v", c.Name, err)
			}
			f(t, c, d)
		})
	})
}
