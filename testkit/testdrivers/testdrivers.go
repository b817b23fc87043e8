// Package testdrivers runs a test against each real daemon through each
// driver: the REST API over the socket, and the daemon's own command on
// this machine. A missing daemon skips, and fails under CI=true.
package testdrivers

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxkit/lxkit/driver"
	"github.com/lxkit/lxkit/driver/cli"
	"github.com/lxkit/lxkit/driver/rest"
	"github.com/lxkit/lxkit/testkit/testhost"
	"github.com/lxkit/lxkit/transport/local"
)

// Each runs f for each daemon and each driver, all in parallel.
func Each(t *testing.T, f func(t *testing.T, d driver.Driver)) { each(t, true, f) }

// EachInTurn runs f for each daemon and each driver, one at a time (for
// what a daemon cannot do twice at once).
func EachInTurn(t *testing.T, f func(t *testing.T, d driver.Driver)) { each(t, false, f) }

func each(t *testing.T, parallel bool, f func(t *testing.T, d driver.Driver)) {
	testhost.Integration(t)
	maybeParallel := func(t *testing.T) {
		if parallel {
			t.Parallel()
		}
	}
	for _, th := range testhost.Hosts() {
		t.Run(th.Name, func(t *testing.T) {
			maybeParallel(t)
			t.Run("rest", func(t *testing.T) {
				maybeParallel(t)
				f(t, rest.New(testhost.Connect(t, th)))
			})
			t.Run("cli", func(t *testing.T) {
				maybeParallel(t)
				ctx := testhost.Context(t, 30*time.Second)
				d, err := cli.New(ctx, local.New(), cli.ForSocket(th.Socket))
				if err != nil {
					testhost.Unavailable(t, "%s through its command: %v", th.Name, err)
				}
				f(t, d)
			})
		})
	}
}

// Named lists, sorted, the names of d's instances that start with prefix.
func Named(t testing.TB, d driver.Driver, prefix string) []string {
	t.Helper()
	all, err := d.List(testhost.Context(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range all {
		if strings.HasPrefix(i.Name, prefix) {
			names = append(names, i.Name)
		}
	}
	slices.Sort(names)
	return names
}
