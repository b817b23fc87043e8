// Package reliability holds the tests that put lxkit under load: many
// lxkit processes at once against the real daemons, each one what a user
// or a CI job would run. (The daemon and network faults are in package
// faults.)
package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/lxkit/lxkit/testkit/testcmd"
)

func TestMain(m *testing.M) { testcmd.Main(m) }

// lxkit runs the lxkit command with args, in the config directory conf,
// killing it after limit.
func lxkit(ctx context.Context, conf string, limit time.Duration, args ...string) testcmd.Result {
	return testcmd.Run(ctx, testcmd.Options{Conf: conf, Limit: limit}, args...)
}
